"""What the console shows of submissions, callbacks and the audit trail: every filter, paging, the
timeline of one attempt, resending many callbacks, and the review queue's order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from consolekit import console_user, make_operator
from facematch.engine.fake import FakeEngine
from facematch.errors import PermissionDeniedError
from facematch.flows import outbox, processing, review
from facematch.flows.console import desk, records
from facematch.flows.console.operators import OperatorRole
from facematch.flows.context import Services
from facematch.outbound import webhooks
from facematch.rules import decisions
from facematch.rules.review_band import Band
from facematch.rules.states import DeliveryState
from facematch.services import build_services
from facematch.storage.console_queries import AuditFilter, CallbackFilter, SubmissionFilter
from facematch.storage.models import FlowSession, OutboxMessage, ReviewItem, Submission, utcnow
from servicekit import create_partner, make_settings, seed_submission


@pytest.fixture
def svc(database_url: str, tmp_path: Path) -> Iterator[Services]:
    services = build_services(
        make_settings(database_url, tmp_path, FACEMATCH_CONSOLE__PAGE_SIZE="10"), engine=FakeEngine()
    )
    yield services
    services.db.dispose()


def _decided(svc: Services, partner_id: str, decision: decisions.Decision, **fields: object) -> str:
    submission_id = seed_submission(svc.db, partner_id, **fields)
    assert processing.record_decision(svc, submission_id, decision)
    return submission_id


def test_submissions_are_found_by_every_filter_and_paged(svc: Services) -> None:
    viewer = console_user(svc, make_operator(svc, OperatorRole.VIEWER))
    bank, shop = create_partner(svc.db).partner_id, create_partner(svc.db).partner_id
    valid = decisions.compared(0.9, True, "m", 0.5, 0.001)
    mismatch = decisions.compared(0.1, False, "m", 0.5, 0.001)
    for _ in range(12):
        _decided(svc, bank, valid)
    old = _decided(svc, bank, mismatch, created_at=utcnow() - timedelta(days=3))
    failed = _decided(svc, shop, decisions.unexpected_failure())

    def ids(**f: object) -> set[str]:
        found = records.find_submissions(svc, viewer, SubmissionFilter(**f), 1)  # type: ignore[arg-type]
        return {row.id for row in found.items}

    first = records.find_submissions(svc, viewer, SubmissionFilter(partner_id=bank), 1)
    second = records.find_submissions(svc, viewer, SubmissionFilter(partner_id=bank), 2)
    assert (first.total, first.pages, len(first.items), len(second.items)) == (13, 2, 10, 3)
    assert not {r.id for r in first.items} & {r.id for r in second.items}
    assert first.items[0].created_at >= first.items[-1].created_at  # newest first
    assert ids(partner_id=shop) == {failed}
    assert ids(status="ERROR") == {failed} and ids(reason_code="VERIFICATION_FAILED") == {failed}
    assert ids(result="INVALID", partner_id=bank) == {old}
    assert ids(reason_code="FACE_MATCH_FAILED") == {old}
    assert ids(until=utcnow() - timedelta(days=2)) == {old}
    assert old not in ids(since=utcnow() - timedelta(days=1), partner_id=bank)
    with svc.db.session() as session:
        row = session.get(Submission, failed)
        assert row is not None
        flow = session.get(FlowSession, row.session_id)
        assert flow is not None
        psid, user_id = flow.partner_session_id, flow.partner_user_id
    assert ids(partner_session_id=psid) == {failed}
    assert failed in ids(user_id=user_id, partner_id=shop)


def test_the_timeline_shows_every_step_and_each_callback_attempt(svc: Services) -> None:
    viewer = console_user(svc, make_operator(svc, OperatorRole.VIEWER))
    partner = create_partner(svc.db, callback_url="https://hooks.bank.example/cb").partner_id
    now = utcnow()
    submission_id = _decided(
        svc,
        partner,
        decisions.selfie_unusable(
            __import__("facematch.errors", fromlist=["FaceQualityError"]).FaceQualityError(
                reasons=("FACE_BLURRED",)
            )
        ),
        created_at=now - timedelta(seconds=30),
        uploaded_at=now - timedelta(seconds=20),
        confirmed_at=now - timedelta(seconds=10),
    )
    claimed = outbox.claim(svc, "w")
    assert claimed is not None and claimed.message_id
    failed = webhooks.DeliveryOutcome(webhooks.Outcome.RETRY, 503, None, "HTTP 503", 0)
    outbox.record(svc, claimed, failed, 12.0)
    detail = records.submission_detail(svc, viewer, submission_id, source="t")
    labels = [event.label for event in detail.timeline]
    assert labels[:4] == ["Initiated", "Uploaded", "Confirmed", "Processed"]
    assert "Callback written" in labels and "Callback attempt 1" in labels
    attempt = next(e for e in detail.timeline if e.label == "Callback attempt 1")
    assert "HTTP 503" in attempt.detail and attempt.tone == "bad"
    assert ("selfie", "FACE_BLURRED") in detail.quality
    processed = next(e for e in detail.timeline if e.label == "Processed")
    assert "INVALID_DOCUMENT" in processed.detail


def test_callbacks_are_filtered_and_many_resent_at_once(svc: Services) -> None:
    admin = console_user(svc, make_operator(svc, OperatorRole.ADMIN))
    viewer = console_user(svc, make_operator(svc, OperatorRole.VIEWER))
    bank = create_partner(svc.db, callback_url="https://hooks.bank.example/cb").partner_id
    shop = create_partner(svc.db, callback_url="https://hooks.shop.example/cb").partner_id
    valid = decisions.compared(0.9, True, "m", 0.5, 0.001)
    bank_ids = [_decided(svc, bank, valid) for _ in range(3)]
    _decided(svc, shop, valid)
    for _ in range(4):  # the bank's three are given up on; the shop's is retried later
        claimed = outbox.claim(svc, "w")
        assert claimed is not None
        with svc.db.session() as session:
            message = session.get(OutboxMessage, claimed.message_id)
            assert message is not None
            of_bank = message.submission_id in bank_ids
        kind = webhooks.Outcome.FAILED if of_bank else webhooks.Outcome.RETRY
        outbox.record(svc, claimed, webhooks.DeliveryOutcome(kind, 500, None, "HTTP 500", 0), 5.0)
    dead = records.find_callbacks(svc, viewer, CallbackFilter(status=DeliveryState.DEAD), 1)
    shop_view = records.find_callbacks(svc, viewer, CallbackFilter(partner_id=shop), 1)
    one = records.find_callbacks(svc, viewer, CallbackFilter(submission_id=bank_ids[0]), 1)
    assert dead.total == 3 and {c.partner_id for c in dead.items} == {bank}
    assert shop_view.total == 1 and one.total == 1 and one.items[0].submission_id == bank_ids[0]
    dead_ids = [c.id for c in dead.items]
    with pytest.raises(PermissionDeniedError):
        records.resend_callbacks(svc, viewer, dead_ids, source="t")
    assert records.resend_callbacks(svc, admin, dead_ids, source="t") == 3
    pending = records.find_callbacks(svc, viewer, CallbackFilter(status=DeliveryState.PENDING), 1)
    assert set(dead_ids) <= {c.id for c in pending.items}
    resends = records.find_audit(svc, viewer, AuditFilter(action="callback_resend"), 1)
    assert resends.total == 3 and {a.details["messageId"] for a in resends.items} == set(dead_ids)


def test_the_audit_log_is_filtered_by_operator_submission_and_action(svc: Services) -> None:
    first = console_user(svc, make_operator(svc, OperatorRole.ADMIN))
    second = console_user(svc, make_operator(svc, OperatorRole.ADMIN))
    partner = create_partner(svc.db).partner_id
    one = seed_submission(svc.db, partner)
    other = seed_submission(svc.db, partner)
    records.submission_detail(svc, first, one, source="t")
    records.submission_detail(svc, second, other, source="t")
    records.submission_detail(svc, second, one, source="t")
    by_first = records.find_audit(svc, first, AuditFilter(actor=first.actor, action="read_details"), 1)
    by_submission = records.find_audit(svc, first, AuditFilter(submission_id=one, action="read_details"), 1)
    assert [a.submission_id for a in by_first.items] == [one]
    assert {a.actor for a in by_submission.items} == {first.actor, second.actor}
    assert "read_details" in records.audit_actions(svc)


def test_the_review_queue_is_oldest_first(svc: Services) -> None:
    partner = create_partner(svc.db).partner_id
    review.set_policy(svc, partner, Band(0.05, 0.5), actor="t")
    mismatch = decisions.compared(0.1, False, "m", 0.5, 0.001, similarity=0.2)
    held = [_decided(svc, partner, mismatch) for _ in range(3)]

    with svc.db.session() as session:  # the last one has waited longest
        for age, submission_id in zip((1, 2, 3), held, strict=True):
            item = session.get(ReviewItem, submission_id)
            assert item is not None
            item.created_at = utcnow() - timedelta(hours=age)
    rows, total = desk.queue(svc, console_user(svc, make_operator(svc, OperatorRole.VIEWER)))
    assert total == 3 and [row.submission_id for row in rows] == list(reversed(held))


def test_results_and_reasons_are_as_the_partner_received_them(svc: Services) -> None:
    viewer = console_user(svc, make_operator(svc, OperatorRole.VIEWER))
    partner = create_partner(svc.db).partner_id
    review.set_policy(svc, partner, Band(0.05, 0.5), actor="t")
    waiting = _decided(svc, partner, decisions.compared(0.1, False, "m", 0.5, 0.001, similarity=0.2))
    rejected = _decided(svc, partner, decisions.compared(0.01, False, "m", 0.5, 0.001, similarity=0.01))

    def ids(**f: str) -> set[str]:
        return {
            r.id
            for r in records.find_submissions(svc, viewer, SubmissionFilter(partner_id=partner, **f), 1).items
        }

    assert ids(status="IN_REVIEW") == {waiting}
    assert ids(result="INVALID") == {rejected}  # the held one has no result for the partner yet
    assert ids(reason_code="FACE_MATCH_FAILED") == {rejected}


def test_a_callback_has_one_attempt_count_everywhere(svc: Services) -> None:
    admin = console_user(svc, make_operator(svc, OperatorRole.ADMIN))
    partner = create_partner(svc.db, callback_url="https://hooks.bank.example/cb").partner_id
    submission_id = _decided(svc, partner, decisions.compared(0.9, True, "m", 0.5, 0.001))
    claimed = outbox.claim(svc, "w")
    assert claimed is not None
    dead = webhooks.DeliveryOutcome(webhooks.Outcome.FAILED, 500, None, "HTTP 500", 0)
    outbox.record(svc, claimed, dead, 5.0)
    [message] = records.find_callbacks(svc, admin, CallbackFilter(submission_id=submission_id), 1).items
    records.resend_callbacks(svc, admin, [message.id], source="t")
    claimed = outbox.claim(svc, "w")
    assert claimed is not None
    ok = webhooks.DeliveryOutcome(webhooks.Outcome.DELIVERED, 200, None, None, 0)
    outbox.record(svc, claimed, ok, 5.0)
    [listed] = records.find_callbacks(svc, admin, CallbackFilter(submission_id=submission_id), 1).items
    detail = records.submission_detail(svc, admin, submission_id, source="t")
    timeline = [e.label for e in detail.timeline if e.label.startswith("Callback attempt")]
    assert (listed.attempts, listed.scheduled) == (2, 1)  # two in all, one since the resend
    assert detail.callbacks[0].attempts == 2 and timeline == ["Callback attempt 1", "Callback attempt 2"]
