"""Deciding a submission: the job function, recording a decision (with its callback), and the
synchronous "pass image data directly" compare."""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from facematch.engine.types import Role
from facematch.errors import (
    DeadlineExceededError,
    DuplicatePartnerSessionError,
    FaceError,
    ImageError,
    MissingFieldError,
    PartnerBusyError,
    ReferenceFetchError,
    UnauthorizedError,
)
from facematch.flows import gateway, partners, results, verdicts
from facematch.flows.context import Services
from facematch.flows.gateway import require_header
from facematch.flows.leases import LeaseHeartbeat
from facematch.flows.submissions import backend_session, make_derivative
from facematch.rules import decisions, sandbox
from facematch.rules.decisions import Decision
from facematch.rules.states import ReasonCode, Result, SubmissionStatus
from facematch.security.capacity import AnalysisPool
from facematch.security.tokens import TokenKind
from facematch.storage import job_repo, submission_repo
from facematch.storage.blobs import BlobNotFoundError, discard
from facematch.storage.models import FlowSession, Partner, Submission, utcnow

log = logging.getLogger(__name__)
#: metadata key of a synchronous compare (its images live only in the request)
DIRECT = "directCompare"


def _reference_headers(svc: Services, partner: Partner, flow_session: FlowSession) -> dict[str, str]:
    headers = partners.reference_headers(partner, box=svc.secrets)
    headers.update(
        {
            "x-partner-session-id": flow_session.partner_session_id,
            "x-partner-user-id": flow_session.partner_user_id,
            "x-partner-user-id-type": flow_session.partner_user_id_type,
        }
    )
    return headers


def _check(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise DeadlineExceededError()


def obtain_reference(
    svc: Services, reference: bytes | None, partner: Partner, flow_session: FlowSession
) -> bytes | Decision:
    """The reference image: the uploaded bytes, else fetched from the session's URL (network
    only, no CPU worth a slot); a Decision when it cannot be had."""
    if reference is not None:
        return reference
    if not flow_session.reference_image_url:
        return decisions.reference_missing("NOT_PROVIDED")
    try:
        return svc.fetch_reference(
            flow_session.reference_image_url,
            headers=_reference_headers(svc, partner, flow_session),
            allowed_hosts=partner.reference_hosts,
        )
    except ReferenceFetchError as error:
        log.info("reference image fetch failed: %s", error.kind)
        return decisions.reference_missing(error.kind)


def decide(
    svc: Services, selfie: bytes, reference: bytes | Decision, *, deadline: float | None = None
) -> Decision:
    """Apply the result rules to a selfie and what :func:`obtain_reference` gave (the selfie is
    judged first: an unusable selfie is the answer whatever the reference).

    ``deadline`` (a ``time.monotonic()`` value): checked between the stages, DeadlineExceededError
    once it has passed (every stage is bounded by the image budget, so none runs on for long)."""
    engine = svc.require_engine()
    try:
        selfie_face = engine.analyze(selfie, Role.SELFIE)
    except (ImageError, FaceError) as error:
        return decisions.selfie_unusable(error)
    _check(deadline)
    if isinstance(reference, Decision):
        return reference
    try:
        reference_face = engine.analyze(reference, Role.REFERENCE)
    except (ImageError, FaceError) as error:
        return decisions.reference_unusable(error)
    _check(deadline)
    return decisions.matched(engine.compare_analyses(selfie_face, reference_face))


def process_submission(svc: Services, submission_id: str, *, cpu: AnalysisPool | None = None) -> None:
    """The job: decide one confirmed submission. Idempotent (a decided submission is left alone), and
    opens its own sessions, so any queue can call it with just the id.

    ``cpu``: where the analyses run (a worker's CPU slots), so a job waiting on a partner's
    reference server holds no CPU slot."""
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        if submission is None or submission.status != SubmissionStatus.IN_PROGRESS:
            job_repo.finish_job(submission_id, session=session)
            return
        flow_session = session.get(FlowSession, submission.session_id)
        partner = session.get(Partner, submission.partner_id)
        assert flow_session is not None and partner is not None
        session.expunge_all()
    try:
        selfie = svc.blobs.get(submission.selfie_blob) if submission.selfie_blob else None
        reference = svc.blobs.get(submission.reference_blob) if submission.reference_blob else None
    except BlobNotFoundError:
        decision = decisions.unexpected_failure("stored image unreadable")
    else:
        if submission.metadata_json.get(DIRECT):
            decision = decisions.unexpected_failure("the synchronous compare was interrupted")
        elif selfie is None:
            decision = decisions.Decision(
                SubmissionStatus.COMPLETED, Result.INVALID, ReasonCode.DOCUMENT_NOT_FOUND, {}
            )
        elif (forced := sandbox.forced_decision(flow_session)) is not None:
            decision = forced
        else:
            obtained = obtain_reference(svc, reference, partner, flow_session)
            decision = (
                cpu.run(lambda: decide(svc, selfie, obtained)) if cpu else decide(svc, selfie, obtained)
            )
    record_decision(svc, submission_id, decision)


def record_decision(svc: Services, submission_id: str, decision: Decision) -> bool:
    """Store the engine's decision as the attempt's verdict (:func:`facematch.flows.verdicts.settle`:
    its next action, and for a final attempt the review band's hold or the callback) and finish its
    job, in one transaction.

    Returns False when the submission had already been decided (a retried job): nothing changes,
    so each final attempt yields exactly one callback message.
    """
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None
        flow_session = session.get(FlowSession, submission.session_id)
        partner = session.get(Partner, submission.partner_id)
        assert flow_session is not None and partner is not None
        action = decisions.next_action_for(
            decision.status,
            decision.reason_code,
            interactive=flow_session.interactive,
            attempts_used=submission_repo.count_attempts(flow_session.id, session=session),
            partner=partner,
        )
        verdict = {
            "status": decision.status,
            "result": decision.result,
            "reason_code": decision.reason_code,
            "details": decision.details,
            "score": decision.score,
            "similarity": decision.similarity,
            "analysis": decision.analysis,
            "error_message": decision.error_message,
            "completed_at": svc.clock.now(),
        }
        settled = verdicts.settle(
            svc,
            submission_id,
            expected=SubmissionStatus.IN_PROGRESS,
            verdict=verdict,
            action=action,
            session=session,
        )
        job_repo.finish_job(submission_id, session=session)
        return settled is not None


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


def refuse_when_busy(svc: Services, token: str | None) -> None:
    """Before a compare's images are read: PartnerBusyError when the partner its token names
    holds its whole share of analyses already, so a flood's refusals cost no image parsing. A token
    that is not a valid partner token is left for :func:`face_match_now` to refuse properly."""
    try:
        partner_id = str(svc.tokens.verify(token, TokenKind.PARTNER)["sub"])
    except UnauthorizedError:
        return
    if svc.analysis.full(partner_id):
        raise PartnerBusyError(1)


def face_match_now(svc: Services, request: DirectMatchRequest) -> dict[str, Any]:
    """Compare two images in the request and answer with the Get Submission Details ``data``.

    The attempt is recorded like any other (details and callbacks work the same). Behind it stands
    a safety-net job leased by this request and kept alive while the compare runs, so a crash
    mid-request still ends with a decided submission (ERROR: the reference was never stored, so the
    interrupted compare cannot be redone) while a compare that is merely slow is never overwritten.
    The compare runs in the analysis pool within the partner's share (PartnerBusyError past it,
    ServiceBusyError when no slot frees up in time) and has a
    deadline (``submissions.sync_deadline_s``): past it, nothing is recorded and the answer is
    DeadlineExceededError (503), so the partner may retry with the same session id. The request
    answers at the deadline whatever the input (:class:`_Answer`): an analysis still running then
    goes on in its slot and records nothing when it ends.
    """
    deadline = time.monotonic() + svc.settings.submissions.sync_deadline_s
    with svc.db.session() as session:
        caller = gateway.require_partner_caller(svc, request.token, session=session)
        partner = caller.partner
        psid = require_header("x-partner-session-id", request.partner_session_id)
        uid = require_header("partner-user-id", request.partner_user_id)
        uidt = require_header("partner-user-id-type", request.partner_user_id_type)
        if request.onboarding_partner:
            gateway.check_onboarding_partner(partner, request.onboarding_partner)
        if not request.selfie:
            raise MissingFieldError("selfie")
        if not request.reference:
            raise MissingFieldError("reference")
        if submission_repo.flow_session_by_psid(partner.id, psid, session=session) is not None:
            raise DuplicatePartnerSessionError()
        session.expunge(partner)
    svc.require_engine()
    started = _Started(psid, uid, uidt, request.onboarding_partner)
    selfie, reference = request.selfie, request.reference
    answer = _Answer()
    future = svc.analysis.submit(
        lambda: _compare_now(svc, partner, started, selfie, reference, deadline, answer),
        wait_s=min(svc.settings.limits.analysis_wait_s, deadline - time.monotonic()),
        owner=partner.id,
    )
    try:
        submission_id = future.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeoutError:
        if answer.give_up():  # the compare runs on, and forgets itself when it ends
            raise DeadlineExceededError() from None
        submission_id = future.result()  # it is recording its verdict already: that is the answer
    return results.details_for_partner(svc, caller, submission_id)


class _Answer:
    """Who ends a synchronous compare that runs up to its deadline: the request, which gives up
    and answers 503 (the compare then records nothing), or the compare, which starts recording its
    verdict (the request then waits for that short transaction and answers it). Whichever comes
    first wins; so the deadline holds whatever the input, and an answer never contradicts the
    records."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ended_by: str | None = None

    def give_up(self) -> bool:
        with self._lock:
            self._ended_by = self._ended_by or "request"
            return self._ended_by == "request"

    def record(self) -> bool:
        with self._lock:
            self._ended_by = self._ended_by or "compare"
            return self._ended_by == "compare"


@dataclass(frozen=True, slots=True)
class _Started:
    psid: str
    uid: str
    uidt: str
    onboarding_partner: str | None


def _compare_now(
    svc: Services,
    partner: Partner,
    started: _Started,
    selfie: bytes,
    reference: bytes,
    deadline: float,
    answer: _Answer,
) -> str:
    selfie_blob = _derivative_or_none(selfie, svc)
    submission_id = str(uuid.uuid4())
    owner = "sync-" + secrets.token_hex(6)
    flow_session = backend_session(
        partner, started.psid, started.onboarding_partner, started.uid, started.uidt
    )
    try:
        with svc.db.session() as session:
            session.add(flow_session)
            session.flush()
            session.add(
                Submission(
                    id=submission_id,
                    partner_id=partner.id,
                    session_id=flow_session.id,
                    attempt=1,
                    status=SubmissionStatus.IN_PROGRESS,
                    selfie_blob=selfie_blob,
                    metadata_json={DIRECT: True},
                    details={},
                    confirmed_at=utcnow(),
                )
            )
            session.flush()
            job_id = job_repo.enqueue_leased_job(
                submission_id,
                partner.id,
                owner,
                svc.settings.submissions.job_lease_s,
                session=session,
                now=svc.clock.now(),
            )
            session.expunge(flow_session)
    except IntegrityError:
        if selfie_blob:
            discard(svc.blobs, selfie_blob)
        raise DuplicatePartnerSessionError() from None
    with LeaseHeartbeat(svc, job_id, owner):
        decision: Decision | None
        try:
            decision = sandbox.forced_decision(flow_session) or decide(
                svc, selfie, reference, deadline=deadline
            )
        except DeadlineExceededError:
            decision = None
        except Exception:
            log.exception("synchronous compare of submission %s failed", submission_id)
            decision = decisions.unexpected_failure("the synchronous compare failed")
        # however the decision came (an unusable image too), never past the deadline, and never
        # once the request has answered without it
        if decision is None or time.monotonic() > deadline or not answer.record():
            if _forget(svc, submission_id, flow_session.id, selfie_blob, owner):
                raise DeadlineExceededError()
            return submission_id  # the safety net decided it meanwhile: its verdict is the answer
        record_decision(svc, submission_id, decision)
    return submission_id


def _forget(
    svc: Services, submission_id: str, flow_session_id: str, selfie_blob: str | None, owner: str
) -> bool:
    """Undo a synchronous compare that ran out of time: as if it had never been received. False when
    the safety net behind it had already decided it (then that verdict stands)."""
    with svc.db.session() as session:
        if not submission_repo.delete_direct_attempt(submission_id, flow_session_id, owner, session=session):
            return False
    if selfie_blob:
        discard(svc.blobs, selfie_blob)
    log.warning("synchronous compare %s passed its deadline; nothing recorded", submission_id)
    return True
