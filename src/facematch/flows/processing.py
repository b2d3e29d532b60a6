"""Deciding a submission: the job function, recording a decision (with its callback), and the
synchronous "pass image data directly" compare."""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facematch.engine.types import Role
from facematch.errors import (
    DuplicatePartnerSessionError,
    FaceError,
    ImageError,
    MissingFieldError,
    ReferenceFetchError,
)
from facematch.flows import decisions, gateway, results, review_band, views
from facematch.flows.context import Services
from facematch.flows.decisions import Decision
from facematch.flows.gateway import require_header
from facematch.flows.submissions import make_derivative
from facematch.storage import repo
from facematch.storage.blobs import BlobNotFoundError
from facematch.storage.models import FlowSession, OutboxMessage, Partner, Submission, utcnow

log = logging.getLogger(__name__)

CALLBACK_EVENT = "submission.completed"
#: metadata key of a synchronous compare (its images live only in the request)
DIRECT = "directCompare"


def _reference_headers(partner: Partner, flow_session: FlowSession) -> dict[str, str]:
    headers = {str(k): str(v) for k, v in partner.reference_headers.items()}
    headers.update(
        {
            "x-partner-session-id": flow_session.partner_session_id,
            "x-partner-user-id": flow_session.partner_user_id,
            "x-partner-user-id-type": flow_session.partner_user_id_type,
        }
    )
    return headers


def evaluate(
    svc: Services, selfie: bytes, reference: bytes | None, partner: Partner, flow_session: FlowSession
) -> Decision:
    """Apply the result rules to one selfie and a reference (uploaded bytes, else the session's URL)."""
    engine = svc.require_engine()
    try:
        selfie_face = engine.analyze(selfie, Role.SELFIE)
    except (ImageError, FaceError) as error:
        return decisions.selfie_unusable(error)
    if reference is None:
        if not flow_session.reference_image_url:
            return decisions.reference_missing("NOT_PROVIDED")
        try:
            reference = svc.fetch_reference(
                flow_session.reference_image_url,
                headers=_reference_headers(partner, flow_session),
                allowed_hosts=partner.reference_hosts,
            )
        except ReferenceFetchError as error:
            log.info("reference image fetch failed: %s", error.kind)
            return decisions.reference_missing(error.kind)
    try:
        reference_face = engine.analyze(reference, Role.REFERENCE)
    except (ImageError, FaceError) as error:
        return decisions.reference_unusable(error)
    return decisions.matched(engine.compare_analyses(selfie_face, reference_face))


def process_submission(svc: Services, submission_id: str) -> None:
    """The job: decide one confirmed submission. Idempotent (a decided submission is left alone), and
    opens its own sessions, so any queue can call it with just the id."""
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        if submission is None or submission.status != "IN_PROGRESS":
            repo.finish_job(submission_id, session=session)
            return
        flow_session = session.get(FlowSession, submission.session_id)
        partner = session.get(Partner, submission.partner_id)
        assert flow_session is not None and partner is not None
        session.expunge_all()
    try:
        selfie = svc.blobs.get(submission.selfie_blob) if submission.selfie_blob else None
        reference = svc.blobs.get(submission.reference_blob) if submission.reference_blob else None
    except BlobNotFoundError:
        selfie = None
        reference = None
        decision = decisions.unexpected_failure("stored image unreadable")
    else:
        if submission.metadata_json.get(DIRECT):
            decision = decisions.unexpected_failure("the synchronous compare was interrupted")
        elif selfie is None:
            decision = decisions.Decision("COMPLETED", "INVALID", "DOCUMENT_NOT_FOUND", {})
        else:
            decision = evaluate(svc, selfie, reference, partner, flow_session)
    record_decision(svc, submission_id, decision)


def record_decision(svc: Services, submission_id: str, decision: Decision) -> bool:
    """Store the decision, its next action and (for a final attempt) the callback, in one transaction.

    Returns False when the submission had already been decided (a retried job): nothing changes,
    so each final attempt yields exactly one callback message.
    """
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None
        flow_session = session.get(FlowSession, submission.session_id)
        partner = session.get(Partner, submission.partner_id)
        assert flow_session is not None and partner is not None
        attempts = repo.count_attempts(flow_session.id, session=session)
        action = decisions.next_action_for(
            decision.status,
            decision.reason_code,
            interactive=flow_session.interactive,
            attempts_used=attempts,
            partner=partner,
        )
        final = action is not decisions.NextAction.RETRY
        # a final borderline non-match waits for a person (review band); no callback until then
        band = (
            review_band.band_for(decision.reason_code, decision.similarity, partner.id, session=session)
            if final
            else None
        )
        now = utcnow()
        moved = session.execute(
            update(Submission)
            .where(Submission.id == submission_id, Submission.status == "IN_PROGRESS")
            .values(
                status=decision.status if band is None else decisions.IN_REVIEW,
                result=decision.result,
                reason_code=decision.reason_code,
                details=decision.details,
                score=decision.score,
                similarity=decision.similarity,
                analysis=decision.analysis,
                error_message=decision.error_message,
                final=final and band is None,
                next_action=action.value if band is None else None,
                completed_at=now if band is None else None,
            )
            .execution_options(synchronize_session=False)
        )
        repo.finish_job(submission_id, session=session)
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            return False
        session.refresh(submission)
        if band is not None:
            review_band.enqueue(
                submission, band, default_deadline_s=svc.settings.console.review_deadline_s, session=session
            )
            return True
        if final:
            write_callback(submission, flow_session, session=session)
    svc.metrics.submissions.labels(decision.status, decision.result or "", decision.reason_code).inc()
    return True


def write_callback(submission: Submission, flow_session: FlowSession, *, session: Session) -> None:
    """The outbox message of a final attempt (the caller's transaction also holds the result)."""
    body = views.details_data(submission, flow_session, selfie_url=None)
    session.add(
        OutboxMessage(
            id="msg_" + secrets.token_hex(16),
            partner_id=submission.partner_id,
            submission_id=submission.id,
            event_type=CALLBACK_EVENT,
            body=json.dumps(body, separators=(",", ":"), sort_keys=True),
            status="pending",
            next_attempt_at=utcnow(),
        )
    )


def finish_session(svc: Services, flow_session_id: str) -> bool:
    """The user leaves while a retry was offered: the last decided attempt becomes the final result
    (partner-visible, with its callback). False when there is nothing to finish."""
    with svc.db.session() as session:
        flow_session = session.get(FlowSession, flow_session_id)
        if flow_session is None:
            return False
        latest = repo.latest_submission(flow_session.id, session=session)
        partner = session.get(Partner, flow_session.partner_id)
        if latest is None or partner is None or latest.final or latest.status not in ("COMPLETED", "ERROR"):
            return False
        action = decisions.NextAction.STATUS if partner.show_status_screen else decisions.NextAction.EXIT
        band = review_band.band_for(latest.reason_code, latest.similarity, partner.id, session=session)
        held = {"status": decisions.IN_REVIEW, "next_action": None, "completed_at": None}
        moved = session.execute(
            update(Submission)
            .where(
                Submission.id == latest.id, Submission.final.is_(False), Submission.status == latest.status
            )
            .values(**(held if band else {"final": True, "next_action": action.value}))
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            return False
        session.refresh(latest)
        if band is not None:
            review_band.enqueue(
                latest, band, default_deadline_s=svc.settings.console.review_deadline_s, session=session
            )
        else:
            write_callback(latest, flow_session, session=session)
    return True


@dataclass(frozen=True, slots=True)
class DirectMatchRequest:
    """Face-match-now: partner token, session and user headers, and both images."""

    token: str | None
    partner_session_id: str | None
    onboarding_partner: str | None
    partner_user_id: str | None
    partner_user_id_type: str | None
    selfie: bytes | None
    reference: bytes | None


def _derivative_or_none(data: bytes, svc: Services) -> str | None:
    try:
        return svc.blobs.put(make_derivative(data, svc.settings))
    except ImageError:
        return None


def face_match_now(svc: Services, request: DirectMatchRequest) -> dict[str, Any]:
    """Compare two images in the request and answer with the Get Submission Details ``data``.

    The attempt is recorded like any other (details and callbacks work the same), and a safety-net
    job is queued behind it, so a crash mid-request still ends with a decided submission (ERROR:
    the reference was never stored, so the interrupted compare cannot be redone).
    """
    with svc.db.session() as session:
        partner = gateway.require_partner(svc, request.token, session=session)
        psid = require_header("x-partner-session-id", request.partner_session_id)
        uid = require_header("partner-user-id", request.partner_user_id)
        uidt = require_header("partner-user-id-type", request.partner_user_id_type)
        if request.onboarding_partner:
            gateway.check_onboarding_partner(partner, request.onboarding_partner)
        if not request.selfie:
            raise MissingFieldError("selfie")
        if not request.reference:
            raise MissingFieldError("reference")
        if repo.flow_session_by_psid(partner.id, psid, session=session) is not None:
            raise DuplicatePartnerSessionError()
        partner_id = partner.id
    selfie_blob = _derivative_or_none(request.selfie, svc)
    submission_id = str(uuid.uuid4())
    try:
        with svc.db.session() as session:
            flow_session = FlowSession(
                id=str(uuid.uuid4()),
                partner_id=partner_id,
                partner_session_id=psid,
                onboarding_partner=request.onboarding_partner,
                partner_user_id=uid,
                partner_user_id_type=uidt,
                source="API",
                interactive=False,
            )
            session.add(flow_session)
            session.flush()
            now = utcnow()
            session.add(
                Submission(
                    id=submission_id,
                    partner_id=partner_id,
                    session_id=flow_session.id,
                    attempt=1,
                    status="IN_PROGRESS",
                    selfie_blob=selfie_blob,
                    metadata_json={DIRECT: True},
                    details={},
                    confirmed_at=now,
                )
            )
            session.flush()
            repo.enqueue_job(submission_id, session=session, delay_s=svc.settings.submissions.job_lease_s)
    except IntegrityError:
        if selfie_blob:
            svc.blobs.delete(selfie_blob)
        raise DuplicatePartnerSessionError() from None
    decision = evaluate(svc, request.selfie, request.reference, partner, flow_session)
    record_decision(svc, submission_id, decision)
    return results.details_for_partner(svc, partner_id, submission_id)
