"""The hosted H5 app (Web SDK): its page, its static files and its own small JSON API.

The page lives at the launch URL's path (``server.launch_path``, ``/web/index.html``); the launch
token stays in the URL fragment and the app exchanges it at ``POST /web/api/session``. The desktop
then authenticates with the ``x-web-session`` header (sessionStorage, so it works inside iframes);
the phone of a Smart QR handoff with a ``__Host-`` cookie set when it opens the QR link.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from facematch.api.deps import Svc, read_capped_body
from facematch.api.errors import error_body, lookup
from facematch.errors import CaptureRejectedError, HandoffLinkError, WebSessionError
from facematch.flows.web import capture as web_capture
from facematch.flows.web import challenge as web_challenge
from facematch.flows.web import exit as web_exit
from facematch.flows.web import session as web_session
from facematch.security.tokens import TokenKind

# The app's own API (used by the page only, free to change) stays out of the partner's OpenAPI document.
router = APIRouter(tags=["web"], include_in_schema=False)

PAGE = "/web/index.html"
#: Smart QR links: ``/web/h/<code>`` (the access log shows the prefix only, never a code)
HANDOFF_PREFIX = "/web/h/"
HANDOFF_ROUTE = "handoff_link"
#: the routes that take an image body (their caps: ``web.preview_max_bytes``, ``web.capture_max_bytes``)
PREVIEW_ROUTE = "web_preview"
CAPTURE_ROUTE = "web_capture"
#: the challenge frames of a flow that asks for liveness (cap: ``liveness.frame_max_bytes``)
FRAME_ROUTE = "web_liveness_frame"
COOKIE = "__Host-facematch-web"
_STATIC = {"app.js": "text/javascript", "app.css": "text/css", "i18n.js": "text/javascript"}
#: every ``/web/`` answer (errors and 404s included) carries these (``middleware.PathHeaders``); a
#: response without a CSP of its own (the page has one) gets the strictest
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin-allow-popups",
}
FALLBACK_HEADERS = {"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'"}
_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors {ancestors}"
)


def _static(name: str) -> bytes:
    return (resources.files("facematch.web") / "static" / name).read_bytes()


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


def _session(
    svc: Svc, request: Request, token: Annotated[str | None, Header(alias="x-web-session")] = None
) -> web_session.WebSession:
    return web_session.resolve_session(svc, token or request.cookies.get(COOKIE))


SessionDep = Annotated[web_session.WebSession, Depends(_session)]
NonceHeader = Annotated[str | None, Header(alias="x-liveness-nonce")]


def _config(config: web_session.WebConfig) -> dict[str, Any]:
    return {
        "role": config.role.value,
        "partnerName": config.partner_name,
        "locale": config.locale,
        "theme": config.theme,
        "allowQr": config.allow_qr,
        "forceQr": config.force_qr,
        "portraitOnly": config.portrait_only,
        "showCta": config.show_cta,
        "maxAttempts": config.max_attempts,
        "attemptsUsed": config.attempts_used,
        "privacyUrl": config.privacy_url,
        "retentionDays": config.retention_days,
        "autoCapture": config.auto_capture,
        "liveness": config.liveness,
        "environment": "sandbox" if config.sandbox else "production",
        "callback": {
            "partnerSessionId": config.partner_session_id,
            "successUrl": config.success_url,
            "failureUrl": config.failure_url,
            "frameOrigins": list(config.frame_origins),
        },
    }


def _state(state: web_session.WebState) -> dict[str, Any]:
    transfer = state.handoff
    return {
        "phase": state.phase.value,
        "final": state.final,
        "submissionId": state.submission_id,
        "status": state.status,
        "nextAction": state.next_action,
        "outcome": state.outcome,
        "retryReason": state.retry_reason,
        "attemptsUsed": state.attempts_used,
        "attemptsLeft": state.attempts_left,
        "callback": {"status": state.callback_status, "errorCode": state.callback_error_code}
        if state.final
        else None,
        "handoff": None
        if transfer is None
        else {
            "state": transfer.state.value,
            "expiresAt": int(transfer.expires_at.timestamp()) if transfer.expires_at else None,
        },
    }


# ---------------------------------------------------------------- page and files


@router.get(PAGE, include_in_schema=False)
def page(svc: Svc) -> Response:
    # The page is fetched before it knows whose flow it is (the token is in the fragment), so every
    # partner's origins are listed; the app then refuses a parent that is not its own partner's.
    ancestors = " ".join(["'self'", *web_session.framing_origins(svc)])
    csp = _PAGE_CSP.format(ancestors=ancestors)
    return Response(_static("index.html"), media_type="text/html", headers={"Content-Security-Policy": csp})


@router.get("/web/static/{name}", include_in_schema=False)
def static_file(name: str) -> Response:
    if name not in _STATIC:
        return Response(status_code=404)
    return Response(_static(name), media_type=_STATIC[name])


@router.get(HANDOFF_PREFIX + "{code}", name=HANDOFF_ROUTE, include_in_schema=False)
def open_handoff_link(svc: Svc, code: str) -> Response:
    """The QR link: redeem once, set the phone's cookie, continue at an address without the code."""
    try:
        token = web_session.redeem_handoff(svc, code)
    except HandoffLinkError:
        # the refusal screen speaks the flow's language when the code was ever ours
        locale = web_exit.locale_of_code(svc, code)
        fragment = "#/link-expired" + (f"?locale={locale}" if locale else "")
        return RedirectResponse(PAGE + fragment, status_code=303)
    response = RedirectResponse(PAGE, status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=svc.settings.web.session_ttl_s,
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )
    return response


# ---------------------------------------------------------------- the app's API


@router.post("/web/api/session")
def open_session(svc: Svc, launch_token: Annotated[str, Body(alias="launchToken", embed=True)]) -> Response:
    try:
        opened = web_session.open_session(svc, launch_token)
    except WebSessionError as error:
        return _refused(error, web_exit.exit_for_token(svc, launch_token, TokenKind.LAUNCH))
    return _json(
        {"sessionToken": opened.token, "config": _config(opened.config), "state": _state(opened.state)}
    )


@router.get("/web/api/session")
def current_session(
    svc: Svc, request: Request, token: Annotated[str | None, Header(alias="x-web-session")] = None
) -> Response:
    token = token or request.cookies.get(COOKIE)
    try:
        web = web_session.resolve_session(svc, token)
        config = web_session.web_config(svc, web)
    except WebSessionError as error:
        return _refused(error, web_exit.exit_for_token(svc, token, TokenKind.USER))
    return _json({"config": _config(config), "state": _state(web_session.web_state(svc, web))})


def _refused(error: WebSessionError, way_back: web_exit.WebExit | None) -> Response:
    """The contract's envelope, and in ``data.exit`` the way back to the partner when the link is
    ours (an expired one still names its flow): the page then speaks its language and calls back."""
    spec = lookup(error, None)
    data = None if way_back is None else {"exit": _exit(way_back)}
    return _json(error_body(spec.code, spec.cause or error.code, data=data), status=spec.status)


def _exit(way_back: web_exit.WebExit) -> dict[str, Any]:
    return {
        "locale": way_back.locale,
        "theme": way_back.theme,
        "partnerName": way_back.partner_name,
        "status": way_back.status,
        "errorCode": way_back.error_code,
        "callback": {
            "partnerSessionId": way_back.partner_session_id,
            "successUrl": way_back.success_url,
            "failureUrl": way_back.failure_url,
            "frameOrigins": list(way_back.frame_origins),
        },
    }


@router.get("/web/api/status")
def status(svc: Svc, web: SessionDep) -> Response:
    return _json(_state(web_session.web_state(svc, web)))


@router.post("/web/api/preview", name=PREVIEW_ROUTE)
async def preview(svc: Svc, web: SessionDep, request: Request) -> Response:
    frame = await read_capped_body(request, svc.settings.web.preview_max_bytes)
    verdict = await run_in_threadpool(web_capture.check_preview, svc, web, frame)
    return _json({"hint": verdict.hint.value, "ready": verdict.ready})


@router.post("/web/api/capture", name=CAPTURE_ROUTE)
async def capture(svc: Svc, web: SessionDep, request: Request, nonce: NonceHeader = None) -> Response:
    image = await read_capped_body(request, svc.settings.web.capture_max_bytes)
    try:
        submission_id = await run_in_threadpool(web_capture.capture, svc, web, image, nonce)
    except CaptureRejectedError as error:
        # Not a failed attempt: nothing was submitted; the app shows the hint and keeps the camera on.
        return _json({"hint": error.hint}, status=422)
    return _json({"submissionId": submission_id})


@router.post("/web/api/liveness/challenge")
def liveness_challenge(svc: Svc, web: SessionDep) -> Response:
    """A new head-move challenge before the selfie (a flow that asks for liveness)."""
    issued = web_challenge.start(svc, web)
    challenge = issued.challenge
    live = svc.settings.liveness
    return _json(
        {
            "nonce": challenge.nonce,
            "moves": [move.value for move in challenge.moves],
            "moveWithinSeconds": challenge.steps[0].within_s,
            "expiresInSeconds": round(issued.expires_in_s, 1),
            "frameMaxBytes": live.frame_max_bytes,
            "budgetBytes": live.challenge_max_bytes,
        }
    )


@router.post("/web/api/liveness/frame", name=FRAME_ROUTE)
async def liveness_frame(svc: Svc, web: SessionDep, request: Request, nonce: NonceHeader = None) -> Response:
    """One downscaled camera frame of the challenge; the answer is guidance, never the verdict."""
    frame = await read_capped_body(request, svc.settings.liveness.frame_max_bytes)
    guidance = await run_in_threadpool(web_challenge.receive_frame, svc, web, nonce, frame)
    return _json(
        {
            "completed": guidance.completed,
            "nextMove": guidance.next_move.value if guidance.next_move else None,
            "offTrack": guidance.off_track,
            "faces": guidance.faces,
            "expiresInSeconds": round(guidance.expires_in_s, 1),
        }
    )


@router.post("/web/api/handoff")
def create_handoff(svc: Svc, web: SessionDep) -> Response:
    issued = web_session.new_handoff(svc, web)
    # the link as text too, for copying: the same single-use, short-lived code as in the QR
    return _json({"qrImage": issued.qr_image, "link": issued.link, "expiresAt": issued.expires_at_epoch})


@router.delete("/web/api/handoff")
def cancel_handoff(svc: Svc, web: SessionDep) -> Response:
    web_session.cancel_handoff(svc, web)
    return Response(status_code=204)


@router.get("/favicon.ico")
def favicon() -> Response:
    """The icon, at the origin's root where browsers look for it (the page links it too)."""
    return Response(
        _static("favicon.ico"), media_type="image/x-icon", headers={"Cache-Control": "max-age=86400"}
    )
