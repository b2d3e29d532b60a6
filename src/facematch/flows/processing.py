"""Deciding a submission: the job function, recording a decision (with its callback), and the
synchronous "pass image data directly" compare."""

from __future__ import annotations

import logging
import time

from facematch.engine.types import FaceAnalysis, ImageRole
from facematch.errors import (
    DeadlineExceededError,
    FaceError,
    ImageError,
    ReferenceFetchError,
)
from facematch.flows import liveness, partners, verdicts
from facematch.flows.context import Services
from facematch.rules import decisions, sandbox
from facematch.rules.decisions import Decision
from facematch.rules.states import ReasonCode, Result, SubmissionStatus
from facematch.security.capacity import AnalysisPool
from facematch.storage import job_repo, submission_repo
from facematch.storage.blobs import BlobNotFoundError
from facematch.storage.db import on_commit
from facematch.storage.models import FlowSession, Partner, Submission

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
    svc: Services,
    selfie: bytes,
    reference: bytes | Decision,
    *,
    deadline: float | None = None,
    evidence: liveness.Evidence | None = None,
) -> Decision:
    """Apply the result rules to a selfie and what :func:`obtain_reference` gave (the selfie is
    judged first: an unusable selfie is the answer whatever the reference). With ``evidence`` (the
    session asks for liveness) the head-move challenge is judged next: a failed one is the answer
    (``NOT_LIVE``) and no face match is run; a passed one's verdict joins the decision.

    ``deadline`` (a ``time.monotonic()`` value): checked between the stages, DeadlineExceededError
    once it has passed (every stage is bounded by the image budget, so none runs on for long)."""
    engine = svc.require_engine()
    try:
        selfie_face = engine.analyze(selfie, ImageRole.SELFIE)
    except (ImageError, FaceError) as error:
        return decisions.selfie_unusable(error)
    _check(deadline)
    if evidence is None:
        return _match(svc, selfie_face, reference, deadline)
    verdict = liveness.judge_evidence(svc, evidence, selfie_face)
    if not verdict.passed:
        return decisions.not_live(verdict)
    _check(deadline)
    return decisions.with_liveness(_match(svc, selfie_face, reference, deadline), verdict)


def _match(
    svc: Services, selfie_face: FaceAnalysis, reference: bytes | Decision, deadline: float | None
) -> Decision:
    engine = svc.require_engine()
    if isinstance(reference, Decision):
        return reference
    try:
        reference_face = engine.analyze(reference, ImageRole.REFERENCE)
    except (ImageError, FaceError) as error:
        return decisions.reference_unusable(error)
    _check(deadline)
    return decisions.matched(engine.compare_analyses(selfie_face, reference_face))


def process_submission(svc: Services, submission_id: str, *, cpu: AnalysisPool | None = None) -> None:
    """The job: decide one confirmed submission. Idempotent (a decided submission is left alone), and
    opens its own sessions, so any queue can call it with just the id. Liveness evidence (a clip,
    challenge frames) is deleted once the verdict is recorded (by this try, or an earlier one).

    ``cpu``: where the analyses run (a worker's CPU slots), so a job waiting on a partner's
    reference server holds no CPU slot."""
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        if submission is None or submission.status != SubmissionStatus.IN_PROGRESS:
            job_repo.finish_job(submission_id, session=session)
            if submission is not None and submission.status != SubmissionStatus.INITIATED:
                on_commit(session, lambda: liveness.discard_evidence(svc, submission_id))
            return
        flow_session = session.get(FlowSession, submission.session_id)
        partner = session.get(Partner, submission.partner_id)
        assert flow_session is not None and partner is not None
        session.expunge_all()
    record_decision(svc, submission_id, _decision(svc, submission, flow_session, partner, cpu))
    liveness.discard_evidence(svc, submission_id)


def _decision(
    svc: Services,
    submission: Submission,
    flow_session: FlowSession,
    partner: Partner,
    cpu: AnalysisPool | None,
) -> Decision:
    """The decision of one confirmed submission (its rows detached from their session)."""
    try:
        selfie = svc.blobs.get(submission.selfie_blob) if submission.selfie_blob else None
        reference = svc.blobs.get(submission.reference_blob) if submission.reference_blob else None
    except BlobNotFoundError:
        return decisions.unexpected_failure("stored image unreadable")
    if submission.metadata_json.get(DIRECT):
        return decisions.unexpected_failure("the synchronous compare was interrupted")
    if selfie is None:
        return decisions.Decision(
            SubmissionStatus.COMPLETED, Result.INVALID, ReasonCode.DOCUMENT_NOT_FOUND, {}
        )
    forced = sandbox.forced_decision(flow_session)
    if forced is not None:
        return forced
    evidence = liveness.evidence_of(svc, submission)
    obtained = obtain_reference(svc, reference, partner, flow_session)
    if cpu is None:
        return decide(svc, selfie, obtained, evidence=evidence)
    return cpu.run(lambda: decide(svc, selfie, obtained, evidence=evidence))


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
