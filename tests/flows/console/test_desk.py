"""The review desk: claims (one reviewer at a time, renewed, released, expired, released by an
admin with an audit event), the next free item, and decisions (once, with a note and a listed
reason, the partner called back once)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from consolekit import console_user, held, make_operator, review_state
from facematch.errors import (
    InvalidFieldError,
    PermissionDeniedError,
    ReviewClaimedError,
    ReviewConflictError,
)
from facematch.flows.console import desk
from facematch.flows.console.operators import ConsoleUser, OperatorRole
from facematch.flows.context import Services
from facematch.storage.models import AuditEvent, ReviewItem, utcnow


@pytest.fixture
def svc(fake_services: Services) -> Services:
    return fake_services


def test_opening_an_item_claims_it_and_the_other_reviewer_sees_it_read_only(svc: Services) -> None:
    submission_id = held(svc)
    first = console_user(svc, make_operator(svc, OperatorRole.REVIEWER))
    second = console_user(svc, make_operator(svc, OperatorRole.REVIEWER))
    until = desk.claim(svc, first, submission_id)
    assert until > utcnow()
    with pytest.raises(ReviewClaimedError, match=f"in review by {first.email} until"):
        desk.claim(svc, second, submission_id)
    theirs = desk.sheet(svc, second, submission_id, source="t")
    assert theirs.grant is None and theirs.item.claimed_by_other(second)  # no images, read-only
    mine = desk.sheet(svc, first, submission_id, source="t")
    assert mine.grant is not None and mine.grant.tokens and 0 < mine.claim_s <= 300
    rows, _ = desk.queue(svc, second)
    [row] = [r for r in rows if r.submission_id == submission_id]
    assert row.claim is not None and row.claim.email == first.email
    with pytest.raises(ReviewClaimedError):
        desk.decide(svc, second, submission_id, "reject", "FACE_MATCH_FAILED", "someone else")
    assert review_state(svc, submission_id)[0].status == "IN_REVIEW"
    assert desk.claim(svc, first, submission_id) >= until  # renewed while in use
    desk.decide(svc, first, submission_id, "approve", None, "same person")
    item = review_state(svc, submission_id)[1]
    assert item is not None and item.claimed_by is None and item.state == "decided"
    with pytest.raises(ReviewConflictError, match=first.email):
        desk.claim(svc, second, submission_id)
    with svc.db.session() as session:
        opened = session.scalars(
            select(AuditEvent.actor).where(
                AuditEvent.action == "review_open", AuditEvent.submission_id == submission_id
            )
        ).all()
    assert opened == [first.actor]  # only the claimant saw the images


def test_a_claim_ends_when_its_reviewer_leaves_or_when_it_runs_out(svc: Services) -> None:
    submission_id = held(svc)
    first = console_user(svc, make_operator(svc, OperatorRole.REVIEWER))
    second = console_user(svc, make_operator(svc, OperatorRole.REVIEWER))
    desk.claim(svc, first, submission_id)
    desk.release(svc, second, submission_id)  # not theirs: nothing happens
    with pytest.raises(ReviewClaimedError):
        desk.claim(svc, second, submission_id)
    desk.release(svc, first, submission_id)
    desk.claim(svc, second, submission_id)
    with svc.db.session() as session:  # the second reviewer's claim has run out
        session.execute(
            update(ReviewItem)
            .where(ReviewItem.submission_id == submission_id)
            .values(claimed_until=utcnow() - timedelta(seconds=1))
        )
    assert desk.item(svc, submission_id).row.claim is None  # type: ignore[union-attr]
    desk.decide(svc, first, submission_id, "reject", "FRAUD_REJECT", "photo of a screen")
    assert review_state(svc, submission_id)[0].reason_code == "FRAUD_REJECT"


def test_an_admin_releases_a_claim_and_that_is_audited(svc: Services) -> None:
    submission_id = held(svc)
    reviewer = console_user(svc, make_operator(svc, OperatorRole.REVIEWER))
    other = console_user(svc, make_operator(svc, OperatorRole.REVIEWER))
    admin = console_user(svc, make_operator(svc, OperatorRole.ADMIN))
    desk.claim(svc, reviewer, submission_id)
    with pytest.raises(PermissionDeniedError):
        desk.release_for_all(svc, other, submission_id, source="10.0.0.9")
    desk.release_for_all(svc, admin, submission_id, source="10.0.0.9")
    desk.claim(svc, other, submission_id)
    with svc.db.session() as session:
        event = session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "review_release", AuditEvent.submission_id == submission_id
            )
        )
    assert event is not None and event.actor == admin.actor and event.source == "10.0.0.9"
    assert event.details["claimedBy"] == reviewer.email and event.details["released"] is True


def test_the_next_item_is_the_oldest_nobody_else_is_reviewing(svc: Services) -> None:
    first = console_user(svc, make_operator(svc, OperatorRole.REVIEWER))
    second = console_user(svc, make_operator(svc, OperatorRole.REVIEWER))
    items = [held(svc) for _ in range(3)]
    with svc.db.session() as session:  # the first has waited longest
        for age, submission_id in zip((3, 2, 1), items, strict=True):
            session.execute(
                update(ReviewItem)
                .where(ReviewItem.submission_id == submission_id)
                .values(created_at=utcnow() - timedelta(days=400 + age))
            )
    assert desk.open_next(svc, first) == items[0]
    assert desk.open_next(svc, second) == items[1]  # the oldest is the first reviewer's
    assert desk.open_next(svc, first, skip=items[0]) == items[2]
    rows, total = desk.queue(svc, first)
    assert total >= 3 and [r.submission_id for r in rows][:3] == items


def test_two_reviewers_racing_for_one_item_get_one_claim(svc: Services) -> None:
    submission_id = held(svc)
    reviewers = [console_user(svc, make_operator(svc, OperatorRole.REVIEWER)) for _ in range(4)]
    won: list[str] = []
    lost: list[str] = []
    barrier = threading.Barrier(len(reviewers))

    def claim(user: ConsoleUser) -> None:
        barrier.wait()
        try:
            desk.claim(svc, user, submission_id)
            won.append(user.email)
        except ReviewClaimedError:
            lost.append(user.email)

    threads = [threading.Thread(target=claim, args=(user,)) for user in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(won) == 1 and len(lost) == 3
    assert desk.item(svc, submission_id).row.claim.email == won[0]  # type: ignore[union-attr]


def test_a_reviewer_decides_once_and_the_partner_is_called_back_once(svc: Services) -> None:
    submission_id = held(svc)
    first = console_user(svc, make_operator(svc, OperatorRole.REVIEWER))
    second = console_user(svc, make_operator(svc, OperatorRole.REVIEWER))
    desk.decide(svc, first, submission_id, "approve", None, "same person; older photo on the card")
    with pytest.raises(ReviewConflictError, match=first.email):
        desk.decide(svc, second, submission_id, "reject", "FACE_MATCH_FAILED", "different person")
    submission, item, messages = review_state(svc, submission_id)
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
    submission_id = held(svc)
    reviewer = console_user(svc, make_operator(svc, OperatorRole.REVIEWER))
    with pytest.raises(InvalidFieldError):
        desk.decide(svc, reviewer, submission_id, "reject", "MADE_UP", "no")
    with pytest.raises(InvalidFieldError):
        desk.decide(svc, reviewer, submission_id, "approve", None, "   ")
    desk.decide(svc, reviewer, submission_id, "reject", "FRAUD_REJECT", "photo of a screen")
    submission, _, messages = review_state(svc, submission_id)
    assert (submission.result, submission.reason_code) == ("INVALID", "FRAUD_REJECT")
    assert json.loads(messages[0].body)["reasonCode"] == "FRAUD_REJECT"


def test_viewers_cannot_decide(svc: Services) -> None:
    submission_id = held(svc)
    viewer = console_user(svc, make_operator(svc, OperatorRole.VIEWER))
    with pytest.raises(PermissionDeniedError):
        desk.decide(svc, viewer, submission_id, "approve", None, "looks fine")
    assert review_state(svc, submission_id)[0].status == "IN_REVIEW"


def test_concurrent_decisions_leave_exactly_one_winner(svc: Services) -> None:
    submission_id = held(svc)
    reviewers = [console_user(svc, make_operator(svc, OperatorRole.REVIEWER)) for _ in range(4)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(reviewers))

    def decide(user: object) -> None:
        barrier.wait()
        try:
            desk.decide(svc, user, submission_id, "reject", "FACE_MATCH_FAILED", "not the same person")  # type: ignore[arg-type]
            outcomes.append("won")
        except ReviewConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=decide, args=(user,)) for user in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["conflict"] * 3 + ["won"]
    assert len(review_state(svc, submission_id)[2]) == 1
