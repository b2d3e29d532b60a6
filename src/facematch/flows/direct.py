"""The synchronous compare ("pass image data directly"): both images in the request, the answer
in the response, the attempt recorded like any other, within the partner's share of the analysis
slots and a deadline that holds whatever the input."""

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

from facematch.errors import (
    DeadlineExceededError,
    DuplicatePartnerSessionError,
    ImageError,
    LivenessRequiredError,
    MissingFieldError,
    PartnerBusyError,
    UnauthorizedError,
)
from facematch.flows import gateway, results
from facematch.flows.context import Services
from facematch.flows.derivatives import make_derivative
from facematch.flows.gateway import require_header
from facematch.flows.leases import LeaseHeartbeat
from facematch.flows.processing import DIRECT, decide, record_decision
from facematch.flows.submissions import backend_session
from facematch.rules import decisions, sandbox
from facematch.rules.decisions import Decision
from facematch.rules.states import LivenessMode, SubmissionStatus
from facematch.security.tokens import TokenKind
from facematch.storage import job_repo, submission_repo
from facematch.storage.blobs import discard
from facematch.storage.models import FlowSession, Partner, Submission, utcnow

log = logging.getLogger(__name__)


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
        if partner.liveness == LivenessMode.ACTIVE:
            raise LivenessRequiredError(
                "the partner asks every session for liveness: use presigned uploads with a challenge clip"
            )
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
        if not answer.end(_Answer.REQUEST):
            submission_id = future.result()  # the compare ended it first: its outcome is the answer
        else:  # the analysis runs on in its slot; its attempt goes now, so a retry is free at once
            attempt = answer.attempt()
            if attempt is None or _forget(svc, attempt):
                raise DeadlineExceededError() from None
            submission_id = attempt.submission_id  # the safety net decided it meanwhile
    return results.details_for_partner(svc, caller, submission_id)


@dataclass(frozen=True, slots=True)
class _Attempt:
    submission_id: str
    flow_session_id: str
    selfie_blob: str | None
    owner: str


class _Answer:
    """Who ends a synchronous compare: the compare, recording its verdict within the deadline (the
    request answers it); or, past the deadline, whichever notices first: the request (it answers
    503 at once, whatever the analysis is doing, and forgets the attempt) or the compare (it
    forgets the attempt and raises DeadlineExceededError). Nothing is recorded once the request
    has answered without it, and an attempt is made only while the request still waits."""

    REQUEST, COMPARE, FORGET = "request", "compare", "forget"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        """Held while the attempt is made, so the request sees it whole or not at all."""
        self._ended_by: str | None = None
        self._attempt: _Attempt | None = None

    def end(self, by: str) -> bool:
        """Whether ``by`` ends the compare (nobody had yet)."""
        with self.lock:
            self._ended_by = self._ended_by or by
            return self._ended_by == by

    def given_up(self) -> bool:
        """Whether the request has answered without the compare (call under :attr:`lock`)."""
        return self._ended_by == self.REQUEST

    def made(self, attempt: _Attempt) -> None:
        """The compare's attempt exists (call under :attr:`lock`)."""
        self._attempt = attempt

    def attempt(self) -> _Attempt | None:
        with self.lock:
            return self._attempt


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
    owner = "sync-" + secrets.token_hex(6)
    flow_session = backend_session(
        partner, started.psid, started.onboarding_partner, started.uid, started.uidt
    )
    attempt = _Attempt(str(uuid.uuid4()), flow_session.id, selfie_blob, owner)
    with answer.lock:
        if answer.given_up():  # the request answered while the selfie was being made
            if selfie_blob:
                discard(svc.blobs, selfie_blob)
            raise DeadlineExceededError()
        try:
            job_id = _open_direct_attempt(svc, partner, flow_session, attempt)
        except IntegrityError:
            if selfie_blob:
                discard(svc.blobs, selfie_blob)
            raise DuplicatePartnerSessionError() from None
        answer.made(attempt)
    with LeaseHeartbeat(svc, job_id, owner):
        decision: Decision | None
        try:
            decision = sandbox.forced_decision(flow_session) or decide(
                svc, selfie, reference, deadline=deadline
            )
        except DeadlineExceededError:
            decision = None
        except Exception:
            log.exception("synchronous compare of submission %s failed", attempt.submission_id)
            decision = decisions.unexpected_failure("the synchronous compare failed")
        # however the decision came (an unusable image too), never past the deadline
        if decision is not None and time.monotonic() <= deadline and answer.end(_Answer.COMPARE):
            record_decision(svc, attempt.submission_id, decision)
            return attempt.submission_id
    if answer.end(_Answer.FORGET) and not _forget(svc, attempt):
        return attempt.submission_id  # the safety net decided it meanwhile: its verdict is the answer
    raise DeadlineExceededError()  # forgotten here, or by the request that answered without it


def _open_direct_attempt(
    svc: Services, partner: Partner, flow_session: FlowSession, attempt: _Attempt
) -> int:
    """The attempt of a synchronous compare, IN_PROGRESS, with its safety-net job leased by the
    request; returns the job's id."""
    with svc.db.session() as session:
        session.add(flow_session)
        session.flush()
        session.add(
            Submission(
                id=attempt.submission_id,
                partner_id=partner.id,
                session_id=flow_session.id,
                attempt=1,
                status=SubmissionStatus.IN_PROGRESS,
                selfie_blob=attempt.selfie_blob,
                metadata_json={DIRECT: True},
                details={},
                confirmed_at=utcnow(),
            )
        )
        session.flush()
        job_id = job_repo.enqueue_leased_job(
            attempt.submission_id,
            partner.id,
            attempt.owner,
            svc.settings.submissions.job_lease_s,
            session=session,
            now=svc.clock.now(),
        )
        session.expunge(flow_session)
    return job_id


def _forget(svc: Services, attempt: _Attempt) -> bool:
    """Undo a synchronous compare that ran out of time: as if it had never been received. False when
    the safety net behind it had already decided it (then that verdict stands)."""
    with svc.db.session() as session:
        if not submission_repo.delete_direct_attempt(
            attempt.submission_id, attempt.flow_session_id, attempt.owner, session=session
        ):
            return False
    if attempt.selfie_blob:
        discard(svc.blobs, attempt.selfie_blob)
    log.warning("synchronous compare %s passed its deadline; nothing recorded", attempt.submission_id)
    return True
