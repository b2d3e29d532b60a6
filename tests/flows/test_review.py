"""The review band and queue: which final attempts a person decides, deciding them once, the deadline
default, and what the partner sees meanwhile and afterwards (one callback, decidedBy)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from consolekit import console_user, make_operator
from facematch.engine.fake import FakeEngine, fake_face_image
from facematch.engine.types import Role as FaceRole
from facematch.errors import (
    FaceQualityError,
    InvalidFieldError,
    PermissionDeniedError,
    ReviewConflictError,
)
from facematch.flows import processing, review, sessions
from facematch.flows.context import Services
from facematch.flows.operators import Role
from facematch.rules import decisions, views
from facematch.rules.review_band import Band
from facematch.storage.models import FlowSession, OutboxMessage, ReviewItem, Submission, utcnow
from servicekit import create_partner, seed_submission

ENGINE = FakeEngine()


@pytest.fixture
def svc(fake_services: Services) -> Services:
    return fake_services


def compared(selfie_person: int, reference_person: int) -> decisions.Decision:
    selfie = ENGINE.analyze(fake_face_image(selfie_person), FaceRole.SELFIE)
    reference = ENGINE.analyze(fake_face_image(reference_person), FaceRole.REFERENCE)
    return decisions.matched(ENGINE.compare_analyses(selfie, reference))


def partner_with_band(svc: Services, band: Band | None) -> str:
    creds = create_partner(svc.db)
    if band is not None:
        review.set_policy(svc, creds.partner_id, band, actor="system:test")
    return creds.partner_id


def submit(svc: Services, partner_id: str, decision: decisions.Decision) -> str:
    submission_id = seed_submission(svc.db, partner_id)
    assert processing.record_decision(svc, submission_id, decision)
    return submission_id


def state(svc: Services, submission_id: str) -> tuple[Submission, ReviewItem | None, list[OutboxMessage]]:
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        item = session.get(ReviewItem, submission_id)
        messages = list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.submission_id == submission_id))
        )
        session.expunge_all()
    assert submission is not None
    return submission, item, messages


def partner_view(svc: Services, submission: Submission) -> dict[str, object]:
    with svc.db.session() as session:
        flow_session = session.get(FlowSession, submission.session_id)
        assert flow_session is not None
        return views.details_data(submission, flow_session, selfie_url=None)


def test_a_final_non_match_in_the_band_waits_for_a_person(svc: Services) -> None:
    partner_id = partner_with_band(svc, Band(0.05, 0.5))
    submission_id = submit(svc, partner_id, compared(1, 2))  # similarity 0.1, threshold 0.5
    submission, item, messages = state(svc, submission_id)
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
    submission, item, messages = state(svc, submission_id)
    assert submission.status == "COMPLETED" and submission.final and item is None and len(messages) == 1
    body = json.loads(messages[0].body)
    assert "reviewRequired" not in body
    face_match = body["submissionDetails"].get("verificationResults", {}).get("faceMatch")
    assert face_match is None or face_match["decidedBy"] == "ENGINE"


def test_a_reviewer_decides_once_and_the_partner_is_called_back_once(svc: Services) -> None:
    partner_id = partner_with_band(svc, Band(0.05, 0.5))
    submission_id = submit(svc, partner_id, compared(1, 2))
    first = console_user(svc, make_operator(svc, Role.REVIEWER))
    second = console_user(svc, make_operator(svc, Role.REVIEWER))
    review.decide(svc, first, submission_id, "approve", None, "same person; older photo on the card")
    with pytest.raises(ReviewConflictError, match=first.email):
        review.decide(svc, second, submission_id, "reject", "FACE_MATCH_FAILED", "different person")
    submission, item, messages = state(svc, submission_id)
    assert (submission.status, submission.result, submission.reason_code) == ("COMPLETED", "VALID", "")
    assert submission.final and submission.next_action == "STATUS"
    assert item is not None and item.decided_by == first.operator_id and item.outcome == "APPROVE"
    [message] = messages
    body = json.loads(message.body)
    assert (body["status"], body["result"], body["reasonCode"]) == ("COMPLETED", "VALID", "")
    face_match = body["submissionDetails"]["verificationResults"]["faceMatch"]
    assert face_match["decidedBy"] == "REVIEW" and face_match["reviewerId"] == first.operator_id
    assert face_match["result"] is True and face_match["engineResult"] is False


def test_reject_needs_a_listed_reason_and_every_decision_a_note(svc: Services) -> None:
    submission_id = submit(svc, partner_with_band(svc, Band(0.05, 0.5)), compared(1, 2))
    reviewer = console_user(svc, make_operator(svc, Role.REVIEWER))
    with pytest.raises(InvalidFieldError):
        review.decide(svc, reviewer, submission_id, "reject", "MADE_UP", "no")
    with pytest.raises(InvalidFieldError):
        review.decide(svc, reviewer, submission_id, "approve", None, "   ")
    review.decide(svc, reviewer, submission_id, "reject", "FRAUD_REJECT", "photo of a screen")
    submission, _, messages = state(svc, submission_id)
    assert (submission.result, submission.reason_code) == ("INVALID", "FRAUD_REJECT")
    assert json.loads(messages[0].body)["reasonCode"] == "FRAUD_REJECT"


def test_viewers_cannot_decide(svc: Services) -> None:
    submission_id = submit(svc, partner_with_band(svc, Band(0.05, 0.5)), compared(1, 2))
    viewer = console_user(svc, make_operator(svc, Role.VIEWER))
    with pytest.raises(PermissionDeniedError):
        review.decide(svc, viewer, submission_id, "approve", None, "looks fine")
    assert state(svc, submission_id)[0].status == "IN_REVIEW"


def test_concurrent_decisions_leave_exactly_one_winner(svc: Services) -> None:
    submission_id = submit(svc, partner_with_band(svc, Band(0.05, 0.5)), compared(1, 2))
    reviewers = [console_user(svc, make_operator(svc, Role.REVIEWER)) for _ in range(4)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(reviewers))

    def decide(user: object) -> None:
        barrier.wait()
        try:
            review.decide(svc, user, submission_id, "reject", "FACE_MATCH_FAILED", "not the same person")  # type: ignore[arg-type]
            outcomes.append("won")
        except ReviewConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=decide, args=(user,)) for user in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["conflict"] * 3 + ["won"]
    assert len(state(svc, submission_id)[2]) == 1


def test_the_deadline_applies_the_default_and_says_so(svc: Services) -> None:
    partner_id = partner_with_band(svc, Band(0.05, 0.5, deadline_s=3600, default_outcome="REJECT"))
    submission_id = submit(svc, partner_id, compared(1, 2))
    review.sweep_overdue(svc)
    assert state(svc, submission_id)[1].state == "open"  # type: ignore[union-attr] # not due yet
    overdue(svc, submission_id)
    assert review.sweep_overdue(svc) == 1
    submission, item, messages = state(svc, submission_id)
    review.sweep_overdue(svc)
    assert len(state(svc, submission_id)[2]) == 1  # decided once
    assert (submission.status, submission.result, submission.reason_code) == (
        "COMPLETED",
        "INVALID",
        "FACE_MATCH_FAILED",
    )
    assert item is not None and item.decided_via == "REVIEW_DEADLINE" and item.decided_by is None
    face_match = json.loads(messages[0].body)["submissionDetails"]["verificationResults"]["faceMatch"]
    assert face_match["decidedBy"] == "REVIEW_DEADLINE" and face_match["reviewerId"] is None
    late = console_user(svc, make_operator(svc, Role.REVIEWER))
    with pytest.raises(ReviewConflictError, match="deadline"):
        review.decide(svc, late, submission_id, "approve", None, "too late")


def test_a_default_of_approve_accepts(svc: Services) -> None:
    partner_id = partner_with_band(svc, Band(0.05, 0.5, deadline_s=60, default_outcome="APPROVE"))
    submission_id = submit(svc, partner_id, compared(1, 2))
    overdue(svc, submission_id)
    review.sweep_overdue(svc)
    assert state(svc, submission_id)[0].result == "VALID"


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
    assert state(svc, submission_id)[0].next_action == "RETRY"
    assert sessions.finish_session(svc, flow_id) is sessions.Finished.FINISHED
    submission, item, messages = state(svc, submission_id)
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
