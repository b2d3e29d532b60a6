"""The one place where an attempt gets its verdict, and with it its next action, its session's state,
its completion callback and its count in ``facematch_submissions_total``.

Three actors decide attempts, and all of them go through :func:`settle`:

* the engine, for a job or a synchronous compare (:func:`facematch.flows.processing.record_decision`);
* the end of the session, when the partner finishes it or its user stays away past the retry window
  (:func:`facematch.flows.flow_sessions.finish_session`): the last verdict becomes final;
* a person or the review deadline, for an attempt the partner's review band held
  (:func:`decide_held`, from the console's review desk and from :func:`sweep_overdue_reviews`).

:func:`settle` moves the attempt with one conditional UPDATE (from the state its actor saw, never
from a final one), so of racing actors exactly one wins. Then:

* a verdict the user may still better (``RETRY``) waits for the next attempt: no callback;
* a final verdict the partner's review band holds becomes ``IN_REVIEW``: a person decides, the
  callback waits for them;
* any other final verdict is final: its next action (:func:`facematch.rules.decisions.final_action`),
  its one callback in the same transaction, and the metric once that transaction commits.

A new way to end an attempt (a failed liveness challenge, a step-up verdict) is one more caller of
:func:`settle`, not a fourth copy of these rules.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from facematch.errors import ReviewConflictError
from facematch.flows import outbox, review
from facematch.flows.context import Services
from facematch.rules import decisions, views
from facematch.rules.review_band import APPROVE
from facematch.rules.states import DecidedBy, NextAction, ReasonCode, Result, SubmissionStatus
from facematch.storage import audit_repo, review_repo, submission_repo
from facematch.storage.db import on_commit
from facematch.storage.models import FlowSession, Partner, ReviewItem, Submission

log = logging.getLogger(__name__)

DEADLINE_ACTOR = "system:review-deadline"


def settle(
    svc: Services,
    submission_id: str,
    *,
    expected: SubmissionStatus,
    verdict: Mapping[str, Any],
    action: NextAction,
    session: Session,
    may_hold: bool = True,
    counted: bool = True,
) -> Submission | None:
    """Give the attempt its verdict in the caller's transaction (see the module docstring).

    ``expected``: the state its actor saw; ``verdict``: the columns of the verdict (status, result,
    reason, details, scores, ``completed_at``; empty when an earlier verdict becomes final);
    ``action``: the next action (``RETRY`` keeps the session open); ``may_hold``: the partner's
    review band may hold a final non-match for a person; ``counted``: the verdict is new (a verdict
    recorded earlier and now made final was counted then). Returns the settled attempt, or None
    when another actor moved it first (nothing changed)."""
    submission = session.get(Submission, submission_id)
    assert submission is not None
    flow_session = session.get(FlowSession, submission.session_id)
    assert flow_session is not None
    final = action is not NextAction.RETRY
    reason = verdict.get("reason_code", submission.reason_code)
    similarity = verdict.get("similarity", submission.similarity)
    band = (
        review.band_holding(submission.partner_id, reason, similarity, session=session)
        if final and may_hold
        else None
    )
    values = dict(verdict)
    if band is not None:
        values |= {
            "status": SubmissionStatus.IN_REVIEW,
            "final": False,
            "next_action": None,
            "completed_at": None,
        }
    else:
        values |= {"final": final, "next_action": action}
    if not submission_repo.move_attempt(submission_id, expected, values, session=session):
        return None
    session.refresh(submission)
    if band is not None:
        review.hold(
            submission, band, default_deadline_s=svc.settings.console.review_deadline_s, session=session
        )
        return submission
    if final:
        outbox.write(submission, flow_session, session=session)
    if counted:
        labels = (submission.status, submission.result or "", submission.reason_code or "")
        counter = svc.metrics.submissions.labels(*labels)
        on_commit(session, counter.inc)
    return submission


def decide_held(
    svc: Services,
    found: ReviewItem,
    outcome: str,
    reason_code: str,
    via: DecidedBy,
    reviewer_id: str | None,
    now: datetime,
    *,
    session: Session,
) -> Submission:
    """A held attempt (its review item already closed by the caller's conditional UPDATE) ends with
    the person's or the deadline's outcome: ``faceMatch.decidedBy`` (``REVIEW`` with the reviewer's
    id, or ``REVIEW_DEADLINE``), final, with its callback."""
    submission = session.get(Submission, found.submission_id)
    partner = session.get(Partner, found.partner_id)
    assert submission is not None and partner is not None
    details = copy.deepcopy(submission.details)
    face_match = details.setdefault("verificationResults", {}).setdefault("faceMatch", {})
    approved = outcome == APPROVE
    face_match.update(
        {
            "result": approved,
            "engineResult": False,
            "decidedBy": via,
            "reviewerId": reviewer_id,
            "reviewedAt": views.iso(now),
        }
    )
    verdict = {
        "status": SubmissionStatus.COMPLETED,
        "result": Result.VALID if approved else Result.INVALID,
        "reason_code": ReasonCode.NONE if approved else reason_code,
        "details": details,
        "completed_at": now,
    }
    settled = settle(
        svc,
        submission.id,
        expected=SubmissionStatus.IN_REVIEW,
        verdict=verdict,
        action=decisions.final_action(partner),
        session=session,
        may_hold=False,
    )
    if settled is None:
        raise ReviewConflictError("the submission is no longer waiting for review")
    return settled


def sweep_overdue_reviews(svc: Services, batch: int = 100) -> int:
    """Apply the default outcome to review items past their deadline; returns how many it decided.
    Safe in several workers at once (the item's conditional UPDATE lets one of them decide each)."""
    now = svc.clock.now()
    with svc.db.session() as session:
        due = review_repo.overdue(now, batch, session=session)
    decided = 0
    for submission_id in due:
        with svc.db.session() as session:
            found = session.get(ReviewItem, submission_id)
            assert found is not None
            outcome = found.default_outcome
            code = ReasonCode.NONE if outcome == APPROVE else ReasonCode.FACE_MATCH_FAILED
            values = {
                "decided_at": now,
                "outcome": outcome,
                "reason_code": code or None,
                "note": "review deadline passed: default outcome applied",
                "decided_via": DecidedBy.REVIEW_DEADLINE,
            }
            if not review_repo.close_item(submission_id, values, session=session):
                continue
            decide_held(svc, found, outcome, code, DecidedBy.REVIEW_DEADLINE, None, now, session=session)
            audit_repo.audit(
                DEADLINE_ACTOR,
                "review_default",
                submission_id,
                session=session,
                reason="the review deadline passed",
                details={"outcome": outcome, "dueAt": found.due_at.isoformat()},
            )
        decided += 1
    return decided
