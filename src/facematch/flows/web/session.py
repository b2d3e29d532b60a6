"""The hosted H5 flow's sessions: open a web session, report progress, move it to a phone (Smart QR).
The camera's use cases (live guidance, the photo) are :mod:`facematch.flows.web.capture`.

A web session is a short-lived user token (``web`` claim: ``desktop`` or ``phone``) bound to one
Initiate Flow session. The desktop gets it in exchange for the launch token; the phone of a Smart QR
handoff gets it when it redeems the QR link. Everything the app learns about progress comes from
:func:`web_state`, which reads the stored attempts and the next action decided by the backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from facematch.errors import (
    ForbiddenError,
    SubmissionStateConflictError,
    TokenExpiredError,
    UnauthorizedError,
    WebSessionError,
    WebSessionExpiredError,
)
from facematch.flows import gateway, partners
from facematch.flows.context import Services
from facematch.flows.web import handoff
from facematch.rules import views
from facematch.rules.decisions import attempts_remaining
from facematch.rules.states import LivenessMode, NextAction, ReasonCode, Source, SubmissionStatus
from facematch.security.tokens import TokenKind
from facematch.storage import partner_repo, submission_repo
from facematch.storage.models import FlowSession, Partner, Submission


class Device(StrEnum):
    """Which device a web session is on: the one that opened the launch link, or the phone a Smart
    QR link handed the flow to."""

    DESKTOP = "desktop"
    PHONE = "phone"


class Phase(StrEnum):
    CAPTURE = "CAPTURE"
    PROCESSING = "PROCESSING"
    REVIEW = "REVIEW"
    """A person decides this attempt; the result can take hours (the partner is called back)."""
    RETRY = "RETRY"
    FINAL = "FINAL"


#: What the front-end callback reports for a final attempt: the partner reads the verdict from us.
FINAL_ERROR_CODE = ReasonCode.VERIFICATION_FAILED


@dataclass(frozen=True, slots=True)
class WebSession:
    flow_session_id: str
    role: Device
    token: str = field(repr=False, default="")
    token_generation: int = 1


@dataclass(frozen=True, slots=True)
class WebConfig:
    """What the app needs to render the flow (no secrets, no scores)."""

    role: Device
    partner_name: str
    locale: str
    theme: str
    allow_qr: bool
    force_qr: bool
    portrait_only: bool
    show_cta: bool
    max_attempts: int
    attempts_used: int
    partner_session_id: str
    success_url: str
    failure_url: str
    frame_origins: tuple[str, ...]
    privacy_url: str | None = None
    retention_days: int = 30
    auto_capture: bool = True
    sandbox: bool = False
    liveness: bool = False
    """A head-move challenge before the selfie (:mod:`facematch.flows.web.challenge`)."""


@dataclass(frozen=True, slots=True)
class WebState:
    """Where the flow stands, and for a final attempt what the partner callback says."""

    phase: Phase
    submission_id: str | None
    status: str | None
    next_action: str | None
    outcome: str | None
    retry_reason: str | None
    attempts_used: int
    max_attempts: int
    handoff: handoff.HandoffStatus | None

    @property
    def final(self) -> bool:
        return self.phase is Phase.FINAL

    @property
    def attempts_left(self) -> int:
        return attempts_remaining(self.max_attempts, self.attempts_used, session_final=self.final)

    @property
    def callback_status(self) -> str | None:
        if not self.final:
            return None
        if self.status == SubmissionStatus.COMPLETED:
            return SubmissionStatus.COMPLETED
        return SubmissionStatus.ERROR

    @property
    def callback_error_code(self) -> str | None:
        return FINAL_ERROR_CODE if self.final and self.status != SubmissionStatus.COMPLETED else None


@dataclass(frozen=True, slots=True)
class OpenedSession:
    token: str
    config: WebConfig
    state: WebState


# ---------------------------------------------------------------- sessions


def issue_session_token(svc: Services, flow_session: FlowSession, role: Device, *, generation: int) -> str:
    """A web session: a user token for this one flow, living ``web.session_ttl_s``."""
    return gateway.user_token_for_session(svc, flow_session, generation=generation, web=role.value).token


def resolve_session(svc: Services, token: str | None) -> WebSession:
    """The web session a token stands for; WebSessionExpiredError / WebSessionError otherwise."""
    if not token:
        raise WebSessionError("no web session")
    try:
        claims = svc.tokens.verify(token, TokenKind.USER)
    except TokenExpiredError:
        raise WebSessionExpiredError() from None
    except UnauthorizedError:
        raise WebSessionError() from None
    role, sid, generation = claims.get("web"), claims.get("sid"), claims.get("gen", 1)
    if role not in (Device.DESKTOP.value, Device.PHONE.value) or not isinstance(sid, str):
        raise WebSessionError("not a web session")
    if not isinstance(generation, int):
        raise WebSessionError("not a web session")
    return WebSession(flow_session_id=sid, role=Device(role), token=token, token_generation=generation)


def open_session(svc: Services, launch_token: str | None) -> OpenedSession:
    """Exchange the launch token (from the URL fragment) for a desktop web session."""
    try:
        launched = gateway.redeem_launch_token(svc, launch_token)
    except TokenExpiredError:
        raise WebSessionExpiredError("the launch link has expired") from None
    except UnauthorizedError:
        raise WebSessionError("the launch link is not valid") from None
    flow_session = launched.flow_session
    if flow_session.source != Source.WEB_SDK:
        raise WebSessionError("this session was not initiated for the Web SDK")
    token = issue_session_token(svc, flow_session, Device.DESKTOP, generation=launched.token_generation)
    web = WebSession(flow_session.id, Device.DESKTOP, token, launched.token_generation)
    return OpenedSession(token=token, config=web_config(svc, web), state=web_state(svc, web))


def redeem_handoff(svc: Services, code: str) -> str:
    """The phone opens the QR link: use it once and return a phone web session token."""
    redeemed = handoff.redeem_handoff(svc, code)
    with svc.db.session() as session:
        flow_session = session.get(FlowSession, redeemed.flow_session_id)
        if flow_session is None:
            raise WebSessionError()
        session.expunge(flow_session)
    return issue_session_token(svc, flow_session, Device.PHONE, generation=redeemed.token_generation)


def framing_origins(svc: Services) -> list[str]:
    """Every enabled partner's frame origins: who may frame the page before its session is known.

    Once the session is known the app refuses a parent that is not its own partner's, and it only
    ever posts its result to that partner's origins.
    """
    with svc.db.session() as session:
        return sorted(partner_repo.enabled_frame_origins(session=session))


def load_in(web: WebSession, *, session: Session) -> tuple[FlowSession, Partner]:
    """The web session's flow session and partner, in the caller's unit of work; WebSessionError
    once the partner is disabled or the tokens of the session's generation are revoked."""
    flow_session = session.get(FlowSession, web.flow_session_id)
    partner = partner_repo.partner_by_id(flow_session.partner_id, session=session) if flow_session else None
    if (
        flow_session is None
        or partner is None
        or partner.disabled
        or not partners.token_is_current(partner, {"gen": web.token_generation})
    ):
        raise WebSessionError()
    return flow_session, partner


def load(svc: Services, web: WebSession) -> tuple[FlowSession, Partner]:
    """:func:`load_in` in a transaction of its own (the rows detached, to read afterwards)."""
    with svc.db.session() as session:
        found = load_in(web, session=session)
        session.expunge_all()
    return found


def web_config(svc: Services, web: WebSession) -> WebConfig:
    flow_session, partner = load(svc, web)
    with svc.db.session() as session:
        used = submission_repo.count_attempts(flow_session.id, session=session)
    return WebConfig(
        role=web.role,
        partner_name=partner.name,
        locale=flow_session.user_locale,
        theme=flow_session.theme,
        allow_qr=flow_session.allow_qr,
        force_qr=flow_session.force_qr,
        portrait_only=flow_session.portrait_only,
        show_cta=partner.show_status_screen,
        max_attempts=partner.max_attempts,
        attempts_used=used,
        partner_session_id=flow_session.partner_session_id,
        success_url=flow_session.success_url or "",
        failure_url=flow_session.failure_url or "",
        frame_origins=tuple(partner.frame_origins),
        privacy_url=partner.privacy_url,
        retention_days=svc.settings.blobs.retention_days,
        auto_capture=partner.auto_capture,
        sandbox=flow_session.sandbox,
        liveness=flow_session.liveness == LivenessMode.ACTIVE,
    )


# ---------------------------------------------------------------- progress


def _retry_reason(submission: Submission) -> str:
    if submission.reason_code in (ReasonCode.FACE_MATCH_FAILED, ReasonCode.NOT_LIVE):
        return submission.reason_code
    selfie: dict[str, Any] = submission.details.get("selfieValidation") or {}
    if selfie.get("verificationReasonCode") in ("NO_FACE", "MULTIPLE_FACES"):
        return "FACE"
    return "QUALITY"


def web_state(svc: Services, web: WebSession) -> WebState:
    """The flow's progress as the app shows it."""
    flow_session, partner = load(svc, web)
    with svc.db.session() as session:
        latest = submission_repo.latest_submission(flow_session.id, session=session)
        used = submission_repo.count_attempts(flow_session.id, session=session)
        if latest is not None:
            session.expunge(latest)
    transfer = handoff.handoff_status(svc, flow_session.id) if web.role is Device.DESKTOP else None

    def state(phase: Phase, *, outcome: str | None = None, retry_reason: str | None = None) -> WebState:
        return WebState(
            phase=phase,
            submission_id=latest.id if latest else None,
            status=latest.status if latest else None,
            next_action=latest.next_action if latest else None,
            outcome=outcome,
            retry_reason=retry_reason,
            attempts_used=used,
            max_attempts=partner.max_attempts,
            handoff=transfer,
        )

    if latest is None:
        return state(Phase.CAPTURE)
    if latest.final:
        return state(Phase.FINAL, outcome=views.web_outcome(latest))
    if latest.status == SubmissionStatus.IN_REVIEW:
        return state(Phase.REVIEW)
    if latest.next_action == NextAction.RETRY:
        return state(Phase.RETRY, retry_reason=_retry_reason(latest))
    if latest.confirmed_at is not None:
        return state(Phase.PROCESSING)
    return state(Phase.CAPTURE)


def new_handoff(svc: Services, web: WebSession) -> handoff.IssuedHandoff:
    """A Smart QR code for the desktop of a flow that allows QR and is not finished."""
    if web.role is not Device.DESKTOP:
        raise ForbiddenError("only the desktop makes QR codes")
    flow_session, _ = load(svc, web)
    if not (flow_session.allow_qr or flow_session.force_qr):
        raise ForbiddenError("Smart QR is off for this flow")
    if web_state(svc, web).final:
        raise SubmissionStateConflictError("the flow has ended")
    return handoff.create_handoff(svc, flow_session.id, generation=web.token_generation)


def cancel_handoff(svc: Services, web: WebSession) -> None:
    """The desktop takes the flow back from the phone: its unused QR codes stop working."""
    if web.role is not Device.DESKTOP:
        raise ForbiddenError("only the desktop cancels QR codes")
    handoff.cancel_handoffs(svc, web.flow_session_id)
