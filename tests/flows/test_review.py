"""The review band and queue: which final attempts a person decides, deciding them once, the deadline
default, and what the partner sees meanwhile and afterwards (one callback, decidedBy)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import update

from consolekit import compared, console_user, make_operator, partner_with_band, review_state, submit
from facematch.errors import (
    FaceQualityError,
    InvalidFieldError,
    ReviewConflictError,
)
from facematch.flows import flow_sessions, processing, review, verdicts
from facematch.flows.console import desk
from facematch.flows.console.operators import OperatorRole
from facematch.flows.context import Services
from facematch.rules import decisions, views
from facematch.rules.review_band import Band
from facematch.storage.models import FlowSession, ReviewItem, Submission, utcnow
from servicekit import seed_submission


@pytest.fixture
def svc(fake_services: Services) -> Services:
    return fake_services


def partner_view(svc: Services, submission: Submission) -> dict[str, object]:
    with svc.db.session() as session:
        flow_session = session.get(FlowSession, submission.session_id)
        assert flow_session is not None
        return views.details_data(submission, flow_session, selfie_url=None)


def test_a_final_non_match_in_the_band_waits_for_a_person(svc: Services) -> None:
    partner_id = partner_with_band(svc, Band(0.05, 0.5))
    submission_id = submit(svc, partner_id, compared(1, 2))  # similarity 0.1, threshold 0.5
    submission, item, messages = review_state(svc, submission_id)
    assert (submission.status, submission.final, submission.next_action) == ("IN_REVIEW", False, None)
    assert submission.similarity == pytest.approx(0.1) and submission.analysis["selfie"]["box"]
    assert item is not None and item.state == "open" and item.threshold == 0.5
    assert messages == []  # no callback until the decision
    data = partner_view(svc, submission)
    assert data["status"] == "IN_PROGRESS" and data["reviewRequired"] is True and "result" not in data
    status = views.status_data(submission, next_action=None, attempts_used=1, attempts_remaining=2)
    assert status["status"] == "IN_PROGRESS" and status["reviewRequired"] is True


@pytest.mark.parametrize(
    ("band", "decision"),
    [
        (Band(0.2, 0.5), compared(1, 2)),  # below the band
        (Band(0.05, 0.5), compared(1, 1)),  # a match is never held
        (Band(-1.0, 1.0), decisions.selfie_unusable(FaceQualityError(reasons=("FACE_BLURRED",)))),
        (Band(-1.0, 1.0), decisions.reference_missing("NOT_PROVIDED")),
        (None, compared(1, 2)),  # no band
    ],
)
def test_everything_else_is_decided_by_the_engine(
    svc: Services, band: Band | None, decision: decisions.Decision
) -> None:
    submission_id = submit(svc, partner_with_band(svc, band), decision)
    submission, item, messages = review_state(svc, submission_id)
    assert submission.status == "COMPLETED" and submission.final and item is None and len(messages) == 1
    body = json.loads(messages[0].body)
    assert "reviewRequired" not in body
    face_match = body["submissionDetails"].get("verificationResults", {}).get("faceMatch")
    assert face_match is None or face_match["decidedBy"] == "ENGINE"


def test_the_deadline_applies_the_default_and_says_so(svc: Services) -> None:
    partner_id = partner_with_band(svc, Band(0.05, 0.5, deadline_s=3600, default_outcome="REJECT"))
    submission_id = submit(svc, partner_id, compared(1, 2))
    verdicts.sweep_overdue_reviews(svc)
    assert review_state(svc, submission_id)[1].state == "open"  # type: ignore[union-attr] # not due yet
    overdue(svc, submission_id)
    assert verdicts.sweep_overdue_reviews(svc) == 1
    submission, item, messages = review_state(svc, submission_id)
    verdicts.sweep_overdue_reviews(svc)
    assert len(review_state(svc, submission_id)[2]) == 1  # decided once
    assert (submission.status, submission.result, submission.reason_code) == (
        "COMPLETED",
        "INVALID",
        "FACE_MATCH_FAILED",
    )
    assert item is not None and item.decided_via == "REVIEW_DEADLINE" and item.decided_by is None
    face_match = json.loads(messages[0].body)["submissionDetails"]["verificationResults"]["faceMatch"]
    assert face_match["decidedBy"] == "REVIEW_DEADLINE" and face_match["reviewerId"] is None
    late = console_user(svc, make_operator(svc, OperatorRole.REVIEWER))
    with pytest.raises(ReviewConflictError, match="deadline"):
        desk.decide(svc, late, submission_id, "approve", None, "too late")


def test_a_default_of_approve_accepts(svc: Services) -> None:
    partner_id = partner_with_band(svc, Band(0.05, 0.5, deadline_s=60, default_outcome="APPROVE"))
    submission_id = submit(svc, partner_id, compared(1, 2))
    overdue(svc, submission_id)
    verdicts.sweep_overdue_reviews(svc)
    assert review_state(svc, submission_id)[0].result == "VALID"


def overdue(svc: Services, submission_id: str) -> None:
    """This item's deadline has passed (as if its deadline's time had gone by)."""
    with svc.db.session() as session:
        session.execute(
            update(ReviewItem)
            .where(ReviewItem.submission_id == submission_id)
            .values(due_at=utcnow() - timedelta(seconds=1))
        )


def test_a_user_who_leaves_after_a_borderline_retry_offer_is_reviewed(svc: Services) -> None:
    partner_id = partner_with_band(svc, Band(0.05, 0.5))
    submission_id = seed_submission(svc.db, partner_id)
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None
        flow_session = session.get(FlowSession, submission.session_id)
        assert flow_session is not None
        flow_session.interactive = True  # a user in the loop, with attempts left: RETRY
        flow_id = flow_session.id
    processing.record_decision(svc, submission_id, compared(1, 2))
    assert review_state(svc, submission_id)[0].next_action == "RETRY"
    assert flow_sessions.finish_session(svc, flow_id) is flow_sessions.Finished.FINISHED
    submission, item, messages = review_state(svc, submission_id)
    assert submission.status == "IN_REVIEW" and item is not None and messages == []


def test_bands_as_similarities_or_fars() -> None:
    calibration = review.calibration_for(FakeSettings())  # type: ignore[arg-type]
    assert review.parse_band("0.30:0.363") == (0.30, 0.363)
    assert review.parse_band("0.25") == (0.25, 1.0)
    low, high = review.parse_band("far:1e-2:1e-3", calibration)
    assert low == pytest.approx(calibration.threshold_for(1e-2), abs=1e-4) and low < high
    for bad in ("x", "0.1:0.2:0.3", "far:2"):
        with pytest.raises(InvalidFieldError):
            review.parse_band(bad, calibration)
    with pytest.raises(InvalidFieldError):
        Band(0.4, 0.3)
    with pytest.raises(InvalidFieldError):
        Band(0.1, 0.3, deadline_s=5)


class FakeSettings:
    class engine:  # noqa: N801 - the settings' shape
        recognizer_calibration = None
