"""The way back from a screen the hosted flow shows without a working session: an expired launch link
or web session, or a used QR link.

A link whose signature is ours still names its flow even after it has expired, so the page can show
the partner's name in the flow's language and send the user back to the partner, reporting what is
true: the final status once the flow is final (exactly as its status screen would), else
``SESSION_TIMEOUT``. A token we did not sign gives nothing (the page shows a final message in the
browser's language); nothing here authorises any action on the flow.
"""

from __future__ import annotations

from dataclasses import dataclass

from facematch.errors import WebSessionError
from facematch.flows.context import Services
from facematch.flows.web import handoff
from facematch.flows.web import session as web_session
from facematch.flows.web.session import Device, WebSession
from facematch.rules.states import Source, SubmissionStatus
from facematch.security.tokens import TokenKind
from facematch.storage import partner_repo
from facematch.storage.models import FlowSession

TIMEOUT_ERROR_CODE = "SESSION_TIMEOUT"


@dataclass(frozen=True, slots=True)
class WebExit:
    """Enough for the page to speak the flow's language and call the partner back."""

    locale: str
    theme: str
    partner_name: str
    status: str
    error_code: str | None
    partner_session_id: str
    success_url: str
    failure_url: str
    frame_origins: tuple[str, ...]


def exit_for_token(svc: Services, token: str | None, kind: TokenKind) -> WebExit | None:
    """The way back for a launch token or a desktop web session token we signed (expired or not)."""
    claims = svc.tokens.claims_if_signed(token, kind)
    if claims is None or (kind is TokenKind.USER and claims.get("web") != Device.DESKTOP.value):
        return None  # not ours; or a phone, whose way back is the desktop
    sid = claims.get("sid")
    if not isinstance(sid, str):
        return None
    with svc.db.session() as session:
        flow_session = session.get(FlowSession, sid)
        partner = (
            partner_repo.partner_by_id(flow_session.partner_id, session=session) if flow_session else None
        )
        if (
            flow_session is None
            or partner is None
            or partner.disabled
            or flow_session.source != Source.WEB_SDK
        ):
            return None
        session.expunge_all()
    try:
        state = web_session.web_state(svc, WebSession(flow_session.id, Device.DESKTOP))
    except WebSessionError:
        return None
    return WebExit(
        locale=flow_session.user_locale,
        theme=flow_session.theme,
        partner_name=partner.name,
        status=state.callback_status or SubmissionStatus.ERROR,
        error_code=state.callback_error_code if state.final else TIMEOUT_ERROR_CODE,
        partner_session_id=flow_session.partner_session_id,
        success_url=flow_session.success_url or "",
        failure_url=flow_session.failure_url or "",
        frame_origins=tuple(partner.frame_origins),
    )


def locale_of_code(svc: Services, code: str) -> str | None:
    """The language of the flow a QR code was made for (used or expired), for its refusal screen."""
    flow_session_id = handoff.flow_of_code(svc, code)
    if flow_session_id is None:
        return None
    with svc.db.session() as session:
        flow_session = session.get(FlowSession, flow_session_id)
        return flow_session.user_locale if flow_session else None
