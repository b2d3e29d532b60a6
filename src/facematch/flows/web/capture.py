"""The hosted flow's camera: live guidance on preview frames, and the photo itself.

A photo is decoded once: the same pixels are checked by the engine (one usable face, the quality
gates) and re-encoded as the stored selfie. A usable photo then becomes the flow's next attempt
through the functions the SDK's presign, upload and confirm calls use
(:func:`~facematch.flows.submissions.open_attempt`, :func:`~facematch.flows.submissions.store_document`,
:func:`~facematch.flows.submissions.confirm_attempt`), in one transaction: no upload URL is minted
for it and none is parsed.
"""

from __future__ import annotations

import hmac

from sqlalchemy.orm import Session

from facematch.errors import (
    CaptureLimitError,
    CaptureRejectedError,
    ImageError,
    LivenessChallengeError,
    RateLimitedError,
    ServiceBusyError,
)
from facematch.flows import derivatives, liveness, submissions
from facematch.flows.context import Services
from facematch.flows.web import guidance
from facematch.flows.web.session import WebSession, load, load_in
from facematch.rules import sandbox
from facematch.rules.states import DocumentType, LivenessMode, Source
from facematch.storage import submission_repo

#: The ``x-sdk-session-id`` the web app's attempts carry.
SDK_SESSION_ID = "web-sdk"


def check_preview(svc: Services, web: WebSession, frame: bytes) -> guidance.Guidance:
    """Live guidance for one downscaled camera frame (nothing is stored).

    Previews are best effort: a frame over the session's or the partner's rate, sent while the
    session's previous frame is still being checked, or arriving when every analysis slot is
    taken (or the partner's share of them) is answered BUSY at once (the app keeps its last hint),
    so a client sending frames fast or in parallel cannot buy CPU time."""
    if len(frame) > svc.settings.web.preview_max_bytes:
        raise CaptureRejectedError(guidance.Hint.ADJUST)
    flow_session, partner = load(svc, web)
    limits = svc.web_limits
    busy = guidance.Guidance(guidance.Hint.BUSY)
    try:
        limits.previews_per_session.take(flow_session.id)
        limits.previews_per_partner.take(partner.id)
    except RateLimitedError:
        return busy
    with limits.previews_at_once.slot(flow_session.id) as got:
        if not got:
            return busy
        engine = svc.require_engine()
        try:
            return svc.analysis.run(lambda: guidance.guide(engine, frame), wait_s=0, owner=partner.id)
        except (ServiceBusyError, RateLimitedError):
            return busy
        except ImageError:
            return guidance.Guidance(guidance.Hint.NO_FACE)


def capture(svc: Services, web: WebSession, image: bytes, nonce: str | None = None) -> str:
    """Submit the selfie as the flow's next attempt and queue it; returns the submission id. In a
    flow that asks for liveness the selfie closes the open challenge and carries its ``nonce``
    (LivenessChallengeError for no, or another, challenge).

    A photo without a usable face is refused before any submission exists (CaptureRejectedError),
    so an empty frame never costs the user an attempt; such refusals are counted and capped per
    session (``web.max_refused_captures``, then CaptureLimitError), and photos are rate-limited
    per session and per partner and checked one at a time per session, in the partner's share of
    the analysis slots (PartnerBusyError past it).
    """
    flow_session, partner = load(svc, web)
    if flow_session.refused_captures >= svc.settings.web.max_refused_captures:
        raise CaptureLimitError()
    limits = svc.web_limits
    limits.captures_per_session.take(flow_session.id)
    limits.captures_per_partner.take(partner.id)
    engine = svc.require_engine()

    def check_and_encode() -> bytes | guidance.Hint:
        """The stored form of a usable photo, or the hint for one without a usable face."""
        try:
            decoded = derivatives.decode_for_storage(image, svc.settings)
        except ImageError:
            return guidance.Hint.NO_FACE
        verdict = guidance.guide(engine, decoded, placement=False)
        return derivatives.encode_derivative(decoded) if verdict.ready else verdict.hint

    with limits.captures_at_once.slot(flow_session.id) as got:
        if not got:
            raise RateLimitedError(1)
        derivative = svc.analysis.run(check_and_encode, owner=partner.id)
        if isinstance(derivative, guidance.Hint):
            with svc.db.session() as session:
                submission_repo.count_refused_capture(flow_session.id, session=session)
            raise CaptureRejectedError(derivative)
        return submit_selfie(svc, web, derivative, nonce)


def submit_selfie(svc: Services, web: WebSession, derivative: bytes, nonce: str | None = None) -> str:
    """Store the selfie (already re-encoded) and make it the flow's next confirmed attempt, in one
    transaction; refused (SubmissionStateConflictError) while an attempt is processed or reviewed,
    and once the flow has its final result."""

    def record(blob_id: str, session: Session) -> tuple[str, str | None]:
        flow_session, partner = load_in(web, session=session)
        sandbox.check_environment(flow_session, partner)
        submission = submissions.open_attempt(flow_session, partner, SDK_SESSION_ID, session=session)
        if flow_session.liveness == LivenessMode.ACTIVE:
            challenge = liveness.challenge_of(submission)
            if challenge is None or not hmac.compare_digest(challenge.nonce, nonce or ""):
                raise LivenessChallengeError("the selfie is for no open challenge of this flow")
            liveness.note_selfie(submission, at=liveness.now_s(svc), nonce=nonce)
        replaced = submissions.store_document(submission, DocumentType.SELFIE, blob_id)
        metadata = {"channel": Source.WEB_SDK, "device": web.role.value}
        submissions.confirm_attempt(submission, flow_session, metadata, session=session, now=svc.clock.now())
        return submission.id, replaced

    submission_id = submissions.record_image(svc, derivative, record)
    svc.doorbell.ring()
    return submission_id
