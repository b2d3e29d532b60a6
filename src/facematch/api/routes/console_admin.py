"""The console's admin pages: partners (create with credentials shown once, settings, callback,
review band, pass-key rotation, disable) and operators (create, disable, reset password)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from facematch.api.console.deps import Actor, Reader
from facematch.api.console.pages import PREFIX, UrlId, redirect, render
from facematch.api.deps import Source, Svc
from facematch.errors import InvalidFieldError, OperatorExistsError
from facematch.flows import review
from facematch.flows.console import operators
from facematch.flows.console import partners as console_partners
from facematch.flows.console.partners import Callback
from facematch.flows.partners import PartnerOptions
from facematch.rules.partner_settings import SETTINGS, Setting
from facematch.rules.review_band import Band
from facematch.rules.states import ReviewOutcome

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Text = Annotated[str, Form()]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def _number(name: str, text: str) -> int | None:
    try:
        return int(text) if text.strip() else None
    except ValueError:
        raise InvalidFieldError(name, f"{name.replace('-', ' ')} must be a number") from None


def _setting(setting: Setting, form: dict[str, str]) -> bool | int | str | None:
    if setting.kind is bool:
        return form.get(setting.name) == "1"
    if setting.kind is str:
        return form.get(setting.name) or None
    return _number(setting.flag.lstrip("-"), form.get(setting.name, ""))


def _options(form: dict[str, str]) -> PartnerOptions:
    settings: dict[str, Any] = {s.name: _setting(s, form) for s in SETTINGS}
    return PartnerOptions(
        onboarding_partners=_lines(form.get("onboarding_partners", "")),
        reference_hosts=_lines(form.get("reference_hosts", "")),
        frame_origins=_lines(form.get("frame_origins", "")),
        privacy_url=form.get("privacy_url", "").strip(),
        sandbox=form.get("sandbox") == "1",
        **settings,
    )


async def _form(request: Request) -> dict[str, str]:
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


def _values_of(
    described: dict[str, Any] | None, form: dict[str, str] | None, default_attempts: int
) -> dict[str, Any]:
    """What the partner form shows: the submitted values after an error, else the partner's."""
    if form is not None:
        return {
            "name": form.get("name", ""),
            **{k: form.get(k, "") for k in ("onboarding_partners", "reference_hosts", "frame_origins")},
            "privacy_url": form.get("privacy_url", ""),
            **{s.name: form.get(s.name) == "1" if s.kind is bool else form.get(s.name, "") for s in SETTINGS},
            "sandbox": form.get("sandbox") == "1",
            "callback_url": form.get("callback_url", ""),
            "callback_method": form.get("callback_method", "POST"),
        }
    if described is None:
        return {
            "name": "",
            "onboarding_partners": "",
            "reference_hosts": "",
            "frame_origins": "",
            "privacy_url": "",
            **{s.name: s.default for s in SETTINGS},
            "max_attempts": default_attempts,  # the deployment's default
            "sandbox": False,
            "callback_url": "",
            "callback_method": "POST",
        }
    return {
        "name": described["name"],
        "onboarding_partners": "\n".join(described["onboardingPartners"]),
        "reference_hosts": "\n".join(described["referenceHosts"]),
        "frame_origins": "\n".join(described["frameOrigins"]),
        "privacy_url": described["privacyUrl"] or "",
        **{s.name: described[s.wire] for s in SETTINGS},
        "sandbox": described["sandbox"],
        "callback_url": "",
        "callback_method": "POST",
    }


def _partner_page(
    request: Request,
    svc: Svc,
    user: operators.ConsoleUser,
    partner_id: str | None,
    *,
    form: dict[str, str] | None = None,
    error: str = "",
    notice: str = "",
    status: int = 200,
) -> Response:
    described, band = console_partners.get(svc, user, partner_id) if partner_id else (None, None)
    deadline = band.deadline_s if band and band.deadline_s else None
    band_text = ""
    if band is not None:
        band_text = f"{band.low:g}:{band.high:g}" if band.high < 1.0 else f"{band.low:g}"
    return render(
        request,
        "partner_form.html",
        user=user,
        p=described,
        status=status,
        error=error,
        notice=notice,
        values=_values_of(described, form, svc.settings.submissions.default_max_attempts),
        band_text=form.get("band", band_text) if form else band_text,
        deadline_h=f"{deadline / 3600:g}" if deadline else "",
        default_deadline_h=f"{svc.settings.console.review_deadline_s / 3600:g}",
        default_outcome=band.default_outcome if band else ReviewOutcome.REJECT,
        overlap_default=svc.settings.tokens.passkey_overlap_s,
    )


@router.get("/partners")
def partners_page(request: Request, svc: Svc, user: Reader) -> Response:
    described, bands = console_partners.list_partners(svc, user)
    return render(request, "partners.html", user=user, partners=described, bands=bands)


@router.get("/partners/new")
def new_partner(request: Request, svc: Svc, user: Reader) -> Response:
    user.require(operators.Permission.MANAGE_PARTNERS)
    return _partner_page(request, svc, user, None)


def _credentials(
    request: Request,
    user: operators.ConsoleUser,
    creds: console_partners.Credentials,
    title: str,
    overlap: int = 0,
) -> Response:
    return render(
        request,
        "partner_secret.html",
        user=user,
        title=title,
        name=creds.name,
        partner_id=creds.partner_id,
        client_id=creds.client_id,
        passkey=creds.passkey,
        webhook_secret=creds.webhook_secret,
        overlap=overlap,
    )


@router.post("/partners")
async def create_partner(request: Request, svc: Svc, user: Actor, source: Source) -> Response:
    form = await _form(request)
    try:
        options = _options(form)
        callback = Callback(
            form.get("callback_url", "").strip() or None,
            form.get("callback_method", "POST"),
            form.get("callback_auth", "").strip() or None,
        )
        creds = await run_in_threadpool(
            console_partners.create, svc, user, form.get("name", ""), options, callback, source=source
        )
    except InvalidFieldError as error:
        message = str(error)
        return await run_in_threadpool(
            lambda: _partner_page(request, svc, user, None, form=form, error=message, status=400)
        )
    return _credentials(request, user, creds, "Partner created")


@router.get("/partners/{partner_id}")
def partner_page(request: Request, svc: Svc, user: Reader, partner_id: UrlId, saved: str = "") -> Response:
    notices = {
        "settings": "Settings saved.",
        "callback": "Callback saved.",
        "band": "Review band saved.",
        "status": "Status changed.",
    }
    return _partner_page(request, svc, user, partner_id, notice=notices.get(saved, ""))


@router.post("/partners/{partner_id}")
async def update_partner(
    request: Request, svc: Svc, user: Actor, source: Source, partner_id: UrlId
) -> Response:
    form = await _form(request)
    try:
        await run_in_threadpool(console_partners.update, svc, user, partner_id, _options(form), source=source)
    except InvalidFieldError as error:
        message = str(error)
        return await run_in_threadpool(
            lambda: _partner_page(request, svc, user, partner_id, form=form, error=message, status=400)
        )
    return redirect(f"{PREFIX}/partners/{partner_id}?saved=settings")


@router.post("/partners/{partner_id}/callback")
def partner_callback(
    request: Request,
    svc: Svc,
    user: Actor,
    source: Source,
    partner_id: UrlId,
    callback_url: Text = "",
    callback_method: Text = "POST",
    callback_auth: Text = "",
    clear_auth: Text = "",
) -> Response:
    callback = Callback(
        callback_url.strip() or None, callback_method, callback_auth.strip() or None, clear_auth == "1"
    )
    try:
        console_partners.set_callback(svc, user, partner_id, callback, source=source)
    except InvalidFieldError as error:
        return _partner_page(request, svc, user, partner_id, error=str(error), status=400)
    return redirect(f"{PREFIX}/partners/{partner_id}?saved=callback")


@router.post("/partners/{partner_id}/review-band")
def partner_band(
    request: Request,
    svc: Svc,
    user: Actor,
    source: Source,
    partner_id: UrlId,
    band: Text = "",
    deadline_h: Text = "",
    default_outcome: Text = ReviewOutcome.REJECT,
) -> Response:
    try:
        chosen = None
        if band.strip():
            calibration = (
                review.calibration_for(svc.settings) if band.strip().lower().startswith("far:") else None
            )
            low, high = review.parse_band(band, calibration)
            deadline = round(float(deadline_h) * 3600) if deadline_h.strip() else None
            chosen = Band(low, high, deadline, ReviewOutcome(default_outcome.upper()))
        console_partners.set_band(svc, user, partner_id, chosen, source=source)
    except (InvalidFieldError, ValueError) as error:
        message = (
            str(error) if isinstance(error, InvalidFieldError) else "the deadline must be a number of hours"
        )
        return _partner_page(request, svc, user, partner_id, error=message, status=400)
    return redirect(f"{PREFIX}/partners/{partner_id}?saved=band")


@router.post("/partners/{partner_id}/rotate")
def rotate(
    request: Request, svc: Svc, user: Actor, source: Source, partner_id: UrlId, overlap_s: Text = "0"
) -> Response:
    try:
        overlap = max(0, int(overlap_s or 0))
    except ValueError:
        overlap = 0
    creds = console_partners.rotate(svc, user, partner_id, overlap, source=source)
    return _credentials(request, user, creds, "New pass-key", overlap)


@router.post("/partners/{partner_id}/{action}")
def toggle_partner(svc: Svc, user: Actor, source: Source, partner_id: UrlId, action: str) -> Response:
    if action not in ("disable", "enable"):
        return Response(status_code=404)
    console_partners.set_disabled(svc, user, partner_id, action == "disable", source=source)
    return redirect(f"{PREFIX}/partners/{partner_id}?saved=status")


# ---------------------------------------------------------------- operators


def _operators_page(
    request: Request, svc: Svc, user: operators.ConsoleUser, status: int = 200, **context: Any
) -> Response:
    user.require(operators.Permission.MANAGE_OPERATORS)
    values = {
        "created": None,
        "reset_password": "",
        "reset_email": "",
        "error": "",
        "login_failures": svc.settings.console.login_failures_per_account,
        **context,
    }
    return render(
        request, "operators.html", user=user, status=status, operators=operators.list_operators(svc), **values
    )


@router.get("/operators")
def operators_page(request: Request, svc: Svc, user: Reader) -> Response:
    return _operators_page(request, svc, user)


@router.post("/operators")
def create_operator(
    request: Request, svc: Svc, user: Actor, source: Source, email: Text = "", role: Text = ""
) -> Response:
    user.require(operators.Permission.MANAGE_OPERATORS)
    try:
        created = operators.create_operator(
            svc, email, operators.parse_role(role), actor=user.actor, source=source
        )
    except (InvalidFieldError, OperatorExistsError) as error:
        return _operators_page(request, svc, user, status=400, error=str(error))
    return _operators_page(request, svc, user, created=created)


@router.post("/operators/{operator_id}/{action}")
def operator_action(
    request: Request,
    svc: Svc,
    user: Actor,
    source: Source,
    operator_id: UrlId,
    action: str,
    reset_totp: Text = "",
) -> Response:
    user.require(operators.Permission.MANAGE_OPERATORS)
    if action in ("disable", "enable"):
        try:
            operators.set_disabled(svc, operator_id, action == "disable", actor=user.actor, source=source)
        except InvalidFieldError as error:
            return _operators_page(request, svc, user, status=400, error=str(error))
        return redirect(PREFIX + "/operators")
    if action == "unlock":
        operators.unlock(svc, operator_id, actor=user.actor, source=source)
        return redirect(PREFIX + "/operators")
    if action == "reset":
        password = operators.reset_password(
            svc, operator_id, actor=user.actor, reset_totp=reset_totp == "1", source=source
        )
        email = next(o.email for o in operators.list_operators(svc) if o.id == operator_id)
        return _operators_page(request, svc, user, reset_password=password, reset_email=email)
    return Response(status_code=404)
