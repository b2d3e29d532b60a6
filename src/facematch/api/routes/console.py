"""The operator console's pages: dashboard, submissions with audited image views, the review queue,
callbacks and the audit log. Login and account pages are in :mod:`facematch.api.routes.console_login`,
partner and operator management in :mod:`facematch.api.routes.console_admin`. Each route parses its
query or form and calls one flow; the flows check roles and write the audit trail."""

from __future__ import annotations

from datetime import date, datetime
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from facematch.api.console import charts
from facematch.api.console.deps import Actor, Reader
from facematch.api.console.pages import PREFIX, redirect, render
from facematch.api.deps import Source, Svc
from facematch.errors import InvalidFieldError
from facematch.flows import operators, review
from facematch.flows.console import images as console_images
from facematch.flows.console import partners as console_partners
from facematch.flows.console import records as console_records
from facematch.flows.console import reports as console_reports
from facematch.flows.operators import Permission
from facematch.rules.states import DeliveryState, ReasonCode, Result, SubmissionStatus
from facematch.storage.console_queries import AuditFilter, CallbackFilter, SubmissionFilter
from facematch.storage.models import utcnow

router = APIRouter(prefix=PREFIX, include_in_schema=False)

_STATIC = {"console.css": "text/css", "console.js": "text/javascript"}
STATUSES = tuple(SubmissionStatus)
REASONS = tuple(reason for reason in ReasonCode if reason)
Text = Annotated[str, Form()]


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise InvalidFieldError("date", "dates are YYYY-MM-DD") from None


def _day_start(value: date | None) -> datetime | None:
    return None if value is None else datetime(value.year, value.month, value.day, tzinfo=utcnow().tzinfo)


def _partners(svc: Svc) -> list[dict[str, str]]:
    return [{"id": pid, "name": name} for pid, name in console_partners.partner_names(svc)]


def _query(**values: Any) -> str:
    """The current filters as a query string prefix for the pager (``...&page=N``)."""
    kept = {k: v for k, v in values.items() if v}
    return "?" + (urlencode(kept) + "&" if kept else "")


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    if name not in _STATIC:
        return Response(status_code=404)
    data = (resources.files("facematch.web") / "console" / "static" / name).read_bytes()
    return Response(data, media_type=_STATIC[name])


@router.get("")
@router.get("/")
def home() -> Response:
    return redirect(PREFIX + "/dashboard")


# ---------------------------------------------------------------- dashboard and submissions


@router.get("/dashboard")
def dashboard(
    request: Request,
    svc: Svc,
    user: Reader,
    partner: str = "",
    since: str = "",
    until: str = "",
) -> Response:
    dash = console_reports.dashboard(
        svc, user, since=_date(since), until=_date(until), partner_id=partner or None
    )
    days = dash.days
    day = dash.per_day
    band = (dash.band.low, dash.band.high) if dash.band else None
    delivered = sum(ok for ok, _ in dash.callbacks_by_day.values())
    attempted = delivered + sum(bad for _, bad in dash.callbacks_by_day.values())
    built = {
        "outcomes": charts.stacked_days(
            days,
            [
                (Result.VALID, "bar-valid", [day[d].valid for d in days]),
                (Result.INVALID, "bar-invalid", [day[d].invalid for d in days]),
                (SubmissionStatus.ERROR, "bar-error", [day[d].error for d in days]),
                ("OPEN", "bar-open", [day[d].open for d in days]),
            ],
            "attempts per day by outcome",
        ),
        "fta": charts.stacked_days(
            days, [("FTA", "bar-fta", [day[d].fta for d in days])], "failure to acquire"
        ),
        "latency": charts.lines_days(
            days,
            [
                ("p50", "p50", [dash.latency_by_day[d].p50 for d in days]),
                ("p95", "p95", [dash.latency_by_day[d].p95 for d in days]),
            ],
            "confirm to decision",
            " s",
        ),
        "callbacks": charts.stacked_days(
            days,
            [
                ("DELIVERED", "bar-ok", [dash.callbacks_by_day[d][0] for d in days]),
                ("FAILED", "bar-failed", [dash.callbacks_by_day[d][1] for d in days]),
            ],
            "callback attempts per day",
        ),
        "histogram": charts.histogram(dash.histogram, dash.threshold, band, "similarity histogram"),
        "reasons": charts.bars(dash.reasons, "reason codes"),
    }
    return render(
        request,
        "dashboard.html",
        user=user,
        dash=dash,
        charts=built,
        partners=_partners(svc),
        callback_rate=(delivered / attempted) if attempted else None,
    )


@router.get("/submissions")
def submissions(
    request: Request,
    svc: Svc,
    user: Reader,
    partner: str = "",
    psid: str = "",
    user_id: str = "",
    status: str = "",
    result: str = "",
    reason: str = "",
    since: str = "",
    until: str = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    end = _date(until)
    f = SubmissionFilter(
        partner_id=partner or None,
        partner_session_id=psid.strip() or None,
        user_id=user_id.strip() or None,
        status=status or None,
        result=result or None,
        reason_code=reason or None,
        since=_day_start(_date(since)),
        until=_day_start(date.fromordinal(end.toordinal() + 1)) if end else None,
    )
    found = console_records.find_submissions(svc, user, f, page)
    query = _query(
        partner=partner,
        psid=psid,
        user_id=user_id,
        status=status,
        result=result,
        reason=reason,
        since=since,
        until=until,
    )
    return render(
        request,
        "submissions.html",
        user=user,
        page=found,
        f=f,
        partners=_partners(svc),
        statuses=STATUSES,
        reasons=REASONS,
        since=since,
        until=until,
        query=query,
    )


def _image_urls(submission_id: str, grant: console_images.ImageGrant | None) -> dict[str, str]:
    if grant is None:
        return {}
    return {
        doc: f"{PREFIX}/images/{submission_id}/{doc}?{urlencode({'t': token})}"
        for doc, token in grant.tokens.items()
    }


def _submission_page(
    request: Request,
    svc: Svc,
    user: operators.ConsoleUser,
    submission_id: str,
    source: str,
    *,
    grant: console_images.ImageGrant | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    detail = console_records.submission_detail(svc, user, submission_id, source=source)
    threshold = detail.face_match.get("threshold")
    similarity = detail.submission.similarity
    gauge = None
    if similarity is not None:
        band = (detail.band.low, detail.band.high) if detail.band else None
        gauge = charts.gauge(similarity, float(threshold) if threshold is not None else None, band)
    return render(
        request,
        "submission.html",
        user=user,
        d=detail,
        urls=_image_urls(submission_id, grant),
        ttl=grant.ttl_s if grant else 0,
        gauge=gauge,
        error=error,
        status=status,
    )


@router.get("/submissions/{submission_id}")
def submission(request: Request, svc: Svc, user: Reader, source: Source, submission_id: str) -> Response:
    return _submission_page(request, svc, user, submission_id, source)


@router.post("/submissions/{submission_id}/images")
def view_images(
    request: Request, svc: Svc, user: Actor, source: Source, submission_id: str, reason: Text = ""
) -> Response:
    try:
        grant = console_images.grant_images(svc, user, submission_id, reason, source=source)
    except InvalidFieldError as error:
        return _submission_page(request, svc, user, submission_id, source, error=str(error), status=400)
    return _submission_page(request, svc, user, submission_id, source, grant=grant)


@router.get("/images/{submission_id}/{doc}")
def image(svc: Svc, user: Reader, source: Source, submission_id: str, doc: str, t: str = "") -> Response:
    data = console_images.image(svc, user, submission_id, doc, t, source=source)
    media = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
    return Response(data, media_type=media, headers={"Content-Disposition": "inline"})


# ---------------------------------------------------------------- review queue


@router.get("/review")
def review_queue(
    request: Request,
    svc: Svc,
    user: Reader,
    decided: str = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    user.require(Permission.READ)
    size = svc.settings.console.page_size
    rows, total = review.queue(svc, limit=size, offset=(page - 1) * size)
    notice = {
        "approve": "Approved. The partner is being called back.",
        "reject": "Rejected. The partner is being called back.",
    }
    return render(
        request,
        "review_queue.html",
        user=user,
        rows=rows,
        total=total,
        page=console_records.Page(rows, total, page, size),
        notice=notice.get(decided, ""),
    )


@router.post("/review/{submission_id}/open")
def open_review(request: Request, svc: Svc, user: Actor, source: Source, submission_id: str) -> Response:
    sheet = console_images.open_review(svc, user, submission_id, source=source)
    r = sheet.item.row
    return render(
        request,
        "review_item.html",
        user=user,
        item=sheet.item,
        urls=_image_urls(submission_id, sheet.grant),
        analysis=sheet.analysis,
        reject_reasons=review.REJECT_REASONS,
        error="",
        gauge=charts.gauge(r.similarity, r.threshold, (r.band_low, r.band_high)),
    )


@router.post("/review/{submission_id}/decision")
def decide(
    svc: Svc,
    user: Actor,
    source: Source,
    submission_id: str,
    outcome: Text = "",
    reason_code: Text = "",
    note: Text = "",
) -> Response:
    review.decide(svc, user, submission_id, outcome, reason_code or None, note, source=source)
    return redirect(f"{PREFIX}/review?{urlencode({'decided': outcome.lower()})}")


# ---------------------------------------------------------------- callbacks and audit


@router.get("/callbacks")
def callbacks(
    request: Request,
    svc: Svc,
    user: Reader,
    partner: str = "",
    status: str = "",
    submission: str = "",
    resent: int = 0,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    f = CallbackFilter(
        partner_id=partner or None, status=status or None, submission_id=submission.strip() or None
    )
    found = console_records.find_callbacks(svc, user, f, page)
    dead = console_records.find_callbacks(
        svc, user, CallbackFilter(partner_id=partner or None, status=DeliveryState.DEAD), 1
    )
    return render(
        request,
        "callbacks.html",
        user=user,
        page=found,
        f=f,
        partners=_partners(svc),
        dead=dead.total,
        can_resend=user.can(Permission.RESEND_CALLBACKS),
        query=_query(partner=partner, status=status, submission=submission),
        notice=f"{resent} callback{'s' if resent != 1 else ''} queued for delivery (same webhook-id)."
        if resent
        else "",
    )


@router.post("/callbacks/resend")
async def resend(request: Request, svc: Svc, user: Actor, source: Source) -> Response:
    form = await request.form()
    ids = [value for value in form.getlist("message") if isinstance(value, str)][:500]
    count = await run_in_threadpool(console_records.resend_callbacks, svc, user, ids, source=source)
    return redirect(f"{PREFIX}/callbacks?{urlencode({'resent': count})}")


@router.get("/audit")
def audit(
    request: Request,
    svc: Svc,
    user: Reader,
    operator: str = "",
    submission: str = "",
    action: str = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    f = AuditFilter(
        actor=f"operator:{operator}" if operator else None,
        submission_id=submission.strip() or None,
        action=action or None,
    )
    found = console_records.find_audit(svc, user, f, page)
    return render(
        request,
        "audit.html",
        user=user,
        page=found,
        f=f,
        operators=operators.list_operators(svc),
        actions=console_records.audit_actions(svc),
        query=_query(operator=operator, submission=submission, action=action),
    )
