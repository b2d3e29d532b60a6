"""The outbox called directly: a final attempt's one message, signed and sent to a real local
receiver, then recorded as delivered, retried on the schedule, or gone."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from facematch.engine.fake import fake_face_image
from facematch.errors import CallbackNotConfiguredError
from facematch.flows import outbox, processing
from facematch.flows.context import Services
from facematch.outbound import webhooks
from facematch.rules.states import DeliveryState
from facematch.storage.models import OutboxMessage, Partner
from servicekit import PartnerCreds, ReceivedRequest, Receiver, create_partner, seed_submission


@pytest.fixture
def answers() -> list[int]:
    """The statuses the receiver gives, in order (204 once they run out)."""
    return []


@pytest.fixture
def receiver(answers: list[int]) -> Iterator[Receiver]:
    def respond(_: Receiver, __: ReceivedRequest) -> tuple[int, dict[str, str], bytes]:
        return (answers.pop(0) if answers else 204), {}, b""

    started = Receiver(respond).start()
    yield started
    started.stop()


def _final(svc: Services, creds: PartnerCreds) -> str:
    """A final attempt of ``creds``' partner (same person: VALID); returns its outbox message's id."""
    submission_id = seed_submission(
        svc.db,
        creds.partner_id,
        selfie_blob=svc.blobs.put(fake_face_image(2)),
        reference_blob=svc.blobs.put(fake_face_image(2)),
    )
    processing.process_submission(svc, submission_id)
    with svc.db.session() as session:
        return session.query(OutboxMessage).filter_by(submission_id=submission_id).one().id


def _state(svc: Services, message_id: str) -> tuple[DeliveryState, int]:
    with svc.db.session() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        return message.status, message.attempts


def _deliver(svc: Services, message_id: str) -> str:
    claimed = outbox.claim(svc, "test-owner")
    assert claimed is not None and claimed.message_id == message_id
    return outbox.record(svc, claimed, outbox.send(svc, claimed), 1.0)


def test_a_final_attempt_is_sent_once_signed_with_the_partners_secret(
    fake_services: Services, receiver: Receiver
) -> None:
    svc = fake_services
    creds = create_partner(svc.db, callback_url=receiver.url + "/hook")
    message_id = _final(svc, creds)
    assert _deliver(svc, message_id) == DeliveryState.DELIVERED
    [request] = receiver.requests
    headers = request.headers
    expected = webhooks.sign(
        creds.webhook_secret, headers["webhook-id"], int(headers["webhook-timestamp"]), request.body
    )
    assert (request.method, request.path, headers["webhook-id"]) == ("POST", "/hook", message_id)
    assert expected in headers["webhook-signature"].split()
    assert json.loads(request.body)["result"] == "VALID"
    assert outbox.claim(svc, "test-owner") is None  # nothing more is due


def test_a_refusal_is_retried_later_and_a_410_marks_the_endpoint_gone(
    fake_services: Services, receiver: Receiver, answers: list[int]
) -> None:
    svc = fake_services
    answers.extend([503, 410])
    creds = create_partner(svc.db, callback_url=receiver.url)
    message_id = _final(svc, creds)
    assert _deliver(svc, message_id) == DeliveryState.PENDING
    assert outbox.claim(svc, "test-owner") is None  # not due before its backoff
    with svc.db.session() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        message.next_attempt_at = message.created_at  # its backoff is over
    assert _deliver(svc, message_id) == DeliveryState.GONE
    with svc.db.session() as session:
        partner = session.get(Partner, creds.partner_id)
        assert partner is not None and partner.callback_gone_at is not None
    assert _state(svc, message_id) == (DeliveryState.GONE, 2)


def test_without_a_callback_url_the_message_waits_unsent_and_cannot_be_resent(
    fake_services: Services,
) -> None:
    svc = fake_services
    message_id = _final(svc, create_partner(svc.db))
    assert _state(svc, message_id) == (DeliveryState.UNSENT, 0)
    assert outbox.claim(svc, "test-owner") is None
    with pytest.raises(CallbackNotConfiguredError):
        outbox.resend(svc, message_id)
