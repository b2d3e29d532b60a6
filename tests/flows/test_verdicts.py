"""Every way an attempt gets its verdict goes through one place: the engine's decision, the end of a
session, a reviewer, the review deadline. Each gives the same next action, one callback for a final
attempt, and one count in the metric, once its transaction commits."""

from __future__ import annotations

from typing import Any

import pytest

from consolekit import compared, console_user, make_operator, partner_with_band, review_state, submit
from facematch.flows import flow_sessions, processing, verdicts
from facematch.flows.console import desk
from facematch.flows.console.operators import OperatorRole
from facematch.flows.context import Services
from facematch.rules.review_band import Band
from facematch.rules.states import NextAction, SubmissionStatus
from facematch.storage.models import Submission
from servicekit import create_partner, seed_session, seed_submission


def counted(svc: Services, status: str = "COMPLETED", result: str = "INVALID", reason: str = "") -> float:
    labels = {"status": status, "result": result, "reason": reason}
    return svc.metrics.registry.get_sample_value("facematch_submissions_total", labels) or 0.0


def test_the_engines_final_verdict_is_final_with_one_callback_and_one_count(fake_services: Services) -> None:
    svc = fake_services
    before = counted(svc, result="VALID")
    submission_id = submit(svc, create_partner(svc.db).partner_id, compared(1, 1))
    submission, item, messages = review_state(svc, submission_id)
    assert (submission.final, submission.next_action, item, len(messages)) == (True, "STATUS", None, 1)
    assert counted(svc, result="VALID") == before + 1
    again = processing.record_decision(svc, submission_id, compared(1, 2))  # a retried job
    assert not again and len(review_state(svc, submission_id)[2]) == 1


def test_a_retry_waits_for_the_next_attempt_and_the_end_makes_it_final_without_a_second_count(
    fake_services: Services,
) -> None:
    svc = fake_services
    flow_id = seed_session(
        svc.db, create_partner(svc.db).partner_id, {"status": "IN_PROGRESS"}, interactive=True
    )
    with svc.db.session() as session:
        [submission_id] = [s.id for s in session.query(Submission).filter_by(session_id=flow_id)]
    before = counted(svc, reason="FACE_MATCH_FAILED")
    assert processing.record_decision(svc, submission_id, compared(1, 2))
    submission, _, messages = review_state(svc, submission_id)
    assert (submission.final, submission.next_action, messages) == (False, NextAction.RETRY, [])
    assert counted(svc, reason="FACE_MATCH_FAILED") == before + 1
    assert flow_sessions.finish_session(svc, flow_id) is flow_sessions.Finished.FINISHED
    submission, _, messages = review_state(svc, submission_id)
    assert (submission.final, submission.next_action, len(messages)) == (True, NextAction.STATUS, 1)
    assert counted(svc, reason="FACE_MATCH_FAILED") == before + 1  # counted when it was recorded


def test_a_held_attempt_is_counted_when_a_person_decides_it(fake_services: Services) -> None:
    svc = fake_services
    before = counted(svc, result="VALID")
    submission_id = submit(svc, partner_with_band(svc, Band(0.05, 0.5)), compared(1, 2))
    submission, item, messages = review_state(svc, submission_id)
    assert (submission.status, item is not None, messages) == ("IN_REVIEW", True, [])
    reviewer = console_user(svc, make_operator(svc, OperatorRole.REVIEWER))
    desk.claim(svc, reviewer, submission_id)
    desk.decide(svc, reviewer, submission_id, "approve", None, "the same person, years apart")
    submission, _, messages = review_state(svc, submission_id)
    assert (submission.status, submission.result, submission.final, len(messages)) == (
        "COMPLETED",
        "VALID",
        True,
        1,
    )
    assert counted(svc, result="VALID") == before + 1


def test_a_verdict_rolled_back_is_not_counted(fake_services: Services) -> None:
    svc = fake_services
    submission_id = seed_submission(svc.db, create_partner(svc.db).partner_id)
    before = counted(svc, result="VALID")
    verdict: dict[str, Any] = {"status": SubmissionStatus.COMPLETED, "result": "VALID", "reason_code": ""}
    with pytest.raises(RuntimeError), svc.db.session() as session:
        settled = verdicts.settle(
            svc,
            submission_id,
            expected=SubmissionStatus.IN_PROGRESS,
            verdict=verdict,
            action=NextAction.STATUS,
            session=session,
        )
        assert settled is not None
        raise RuntimeError("the transaction fails after the verdict")
    assert counted(svc, result="VALID") == before
    submission, _, messages = review_state(svc, submission_id)
    assert submission.status == "IN_PROGRESS" and messages == []
