"""A partner session across its attempts: finishing it (on the partner's demand, or when the user
has left after a retry for longer than the partner's retry window).

Finishing makes the last decided attempt the session's final result, with its one callback, and
discards an attempt the user had started but never confirmed (its uploads are deleted). A session
whose attempt is being processed cannot be finished until that attempt is decided, and a session
without any decided attempt has nothing to finish.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from facematch.errors import SubmissionNotFoundError, SubmissionStateConflictError
from facematch.flows import gateway, liveness, results, verdicts
from facematch.flows.context import Services
from facematch.flows.gateway import require_header
from facematch.rules.decisions import final_action
from facematch.rules.states import DECIDED, SubmissionStatus
from facematch.storage import audit_repo, partner_repo, submission_repo
from facematch.storage.blobs import discard
from facematch.storage.models import FlowSession, Partner


class Finished(enum.StrEnum):
    """What :func:`finish_session` did."""

    FINISHED = "FINISHED"
    """The last decided attempt became final; its callback is in the outbox."""
    ALREADY_FINAL = "ALREADY_FINAL"
    """The session already had its final result (nothing changed, no second callback)."""
    PROCESSING = "PROCESSING"
    """An attempt is being processed: its decision comes first."""
    NOTHING = "NOTHING"
    """No attempt was decided yet."""


class _RaceError(Exception):
    """Another request moved first: roll this finish back and report ``outcome``."""

    def __init__(self, outcome: Finished) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome


def finish_session(svc: Services, flow_session_id: str) -> Finished:
    """Make the session's last decided attempt final (with its callback), in one transaction.

    Safe to run from several places at once: the attempt moves to final with a conditional UPDATE,
    so only one caller writes the callback.
    """
    discarded: list[str] = []
    try:
        with svc.db.session() as session:
            flow_session = session.get(FlowSession, flow_session_id)
            partner = session.get(Partner, flow_session.partner_id) if flow_session else None
            if flow_session is None or partner is None:
                return Finished.NOTHING
            attempts = submission_repo.session_attempts(flow_session.id, session=session)
            if any(attempt.final for attempt in attempts):
                return Finished.ALREADY_FINAL
            if any(attempt.status == SubmissionStatus.IN_PROGRESS for attempt in attempts):
                return Finished.PROCESSING
            decided = [attempt for attempt in attempts if attempt.status in DECIDED]
            if not decided:
                return Finished.NOTHING
            last = decided[-1]
            for open_attempt in (a for a in attempts if a.attempt > last.attempt):
                evidence = liveness.evidence_blobs(open_attempt, session=session)
                if not submission_repo.delete_unconfirmed_attempt(open_attempt.id, session=session):
                    raise _RaceError(Finished.PROCESSING)  # it was confirmed meanwhile
                images = (open_attempt.selfie_blob, open_attempt.reference_blob)
                discarded += [blob for blob in images if blob] + evidence
            # the last verdict (counted when it was recorded) becomes final; a borderline non-match
            # in the partner's review band goes to a person instead
            settled = verdicts.settle(
                svc,
                last.id,
                expected=SubmissionStatus(last.status),
                verdict={},
                action=final_action(partner),
                session=session,
                counted=False,
            )
            if settled is None:
                raise _RaceError(Finished.ALREADY_FINAL)  # another finisher was first
    except _RaceError as race:
        return race.outcome
    for blob in discarded:
        discard(svc.blobs, blob)
    return Finished.FINISHED


def finish_idle_sessions(svc: Services, batch: int = 100) -> int:
    """Finish the sessions whose user was offered a retry and then stayed away longer than their
    partner's retry window (``partner ... --retry-window-s``); returns how many this call finished."""
    now = svc.clock.now()
    with svc.db.session() as session:
        windows = partner_repo.retry_windows(session=session)
    finished = 0
    for partner_id, window_s in windows:
        with svc.db.session() as session:
            idle_before = now - timedelta(seconds=window_s)
            candidates = submission_repo.idle_retry_sessions(partner_id, idle_before, batch, session=session)
        finished += sum(1 for sid in candidates if finish_session(svc, sid) is Finished.FINISHED)
    return finished


@dataclass(frozen=True, slots=True)
class FinishRequest:
    """End a session now (our extension): the partner token and the session's header."""

    token: str | None
    partner_session_id: str | None


def finish(svc: Services, request: FinishRequest) -> dict[str, Any]:
    """``POST /coe-partner/v1/sessions/finish``: end the session on the partner's demand; answers
    with the Get Submission Details ``data`` of its final attempt (repeating the call is harmless)."""
    with svc.db.session() as session:
        caller = gateway.require_partner_caller(svc, request.token, session=session)
        partner = caller.partner
        psid = require_header("x-partner-session-id", request.partner_session_id)
        flow_session = submission_repo.flow_session_by_psid(partner.id, psid, session=session)
        if flow_session is None:
            raise SubmissionNotFoundError()
        partner_id, flow_session_id = partner.id, flow_session.id
    outcome = finish_session(svc, flow_session_id)
    if outcome is Finished.PROCESSING:
        raise SubmissionStateConflictError("an attempt is being processed: finish once it is decided")
    if outcome is Finished.NOTHING:
        raise SubmissionNotFoundError("the session has no decided attempt")
    with svc.db.session() as session:
        latest = submission_repo.latest_submission(flow_session_id, session=session)
        assert latest is not None
        audit_repo.audit(f"partner:{partner_id}", "finish_session", latest.id, session=session)
        latest_id = latest.id
    return results.details_for_partner(svc, caller, latest_id)
