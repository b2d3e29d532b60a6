"""Completion callbacks: Standard Webhooks signatures checked with the off-the-shelf verifier, retries
with one webhook-id, Retry-After, 410, dead letter and resend."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from facematch.cli.main import main as cli_main
from facematch.engine.fake import fake_face_image
from facematch.storage import outbox_repo
from facematch.storage.models import OutboxMessage, utcnow
from partner_client import Api, make_api
from servicekit import LiveServer, ReceivedRequest, Receiver, service_env, wait_for


class Script:
    """Answers from a list (then the last one forever)."""

    def __init__(self, *answers: tuple[int, dict[str, str]]) -> None:
        self.answers = list(answers)
        self.lock = threading.Lock()

    def __call__(self, _: Receiver, __: ReceivedRequest) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            status, headers = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return status, headers, b"ok"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver(Script((200, {}))).start()
    yield hook
    hook.stop()


def partner_with_callback(live: LiveServer, receiver: Receiver) -> Api:
    return make_api(live, callback_url=receiver.url + "/hook")


def attempts_logged(api: Api, message_id: str) -> int:
    with api.server.services.db.session() as session:
        return len(outbox_repo.delivery_attempts(message_id, session=session))


def fast_forward(api: Api, message_id: str, attempts_done: int) -> None:
    """Skip the schedule's wait once ``attempts_done`` attempts are on record."""
    wait_for(lambda: attempts_logged(api, message_id) >= attempts_done)
    with api.server.services.db.session() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == "pending")
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


def status_of(api: Api, message_id: str) -> str:
    with api.server.services.db.session() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        return message.status


def wait_status(api: Api, message_id: str, status: str) -> None:
    wait_for(lambda: status_of(api, message_id) == status)


def message_for(api: Api, submission_id: str) -> OutboxMessage:
    def find() -> OutboxMessage | None:
        with api.server.services.db.session() as session:
            return session.scalar(select(OutboxMessage).where(OutboxMessage.submission_id == submission_id))

    message: OutboxMessage = wait_for(find)
    return message


def test_signed_callback_verifies_and_tampering_fails(live: LiveServer, receiver: Receiver) -> None:
    api = partner_with_callback(live, receiver)
    _token, psid, submission_id = api.run_be_flow(fake_face_image(1), fake_face_image(1))
    wait_for(receiver.count)
    request = receiver.requests[0]
    assert request.method == "POST" and request.headers["content-type"] == "application/json"
    verified = Webhook(api.creds.webhook_secret).verify(request.body, request.headers)
    assert verified["submissionId"] == submission_id and verified["result"] == "VALID"
    assert verified["partnerSessionId"] == psid and "imageUrls" not in json.dumps(verified)
    details = api.details(x_submission_id=submission_id).json()["data"]
    details["submissionDetails"].pop("imageUrls")
    assert verified == details  # the Get Submission Details data without image URLs
    for changed in (
        {"body": request.body.replace(b"VALID", b"INVAL")},
        {"webhook-id": "msg_other"},
        {"webhook-timestamp": str(int(request.headers["webhook-timestamp"]) - 1)},
    ):
        headers = dict(request.headers)
        body = changed.pop("body", request.body)
        headers.update(changed)  # type: ignore[arg-type]
        with pytest.raises(WebhookVerificationError):
            Webhook(api.creds.webhook_secret).verify(body, headers)
    api.http.close()


def test_fail_three_times_then_succeed_is_four_attempts_one_id(live: LiveServer) -> None:
    receiver = Receiver(
        Script((500, {}), (503, {}), (302, {"location": "http://127.0.0.1:1/"}), (200, {}))
    ).start()
    api = partner_with_callback(live, receiver)
    _, _, submission_id = api.run_be_flow(fake_face_image(1), fake_face_image(2))
    message = message_for(api, submission_id)
    for done in (1, 2, 3):
        fast_forward(api, message.id, done)
    wait_for(lambda: receiver.count() >= 4)
    wait_status(api, message.id, "delivered")
    with api.server.services.db.session() as session:
        log = outbox_repo.delivery_attempts(message.id, session=session)
    assert receiver.count() == 4
    assert {r.headers["webhook-id"] for r in receiver.requests} == {message.id}
    assert [a.outcome for a in log] == ["RETRY", "RETRY", "RETRY", "DELIVERED"]
    assert [a.http_status for a in log] == [500, 503, 302, 200]
    for request in receiver.requests:
        Webhook(api.creds.webhook_secret).verify(request.body, request.headers)
    receiver.stop()
    api.http.close()


def test_retry_after_is_honoured(live: LiveServer) -> None:
    receiver = Receiver(Script((429, {"retry-after": "120"}), (200, {}))).start()
    api = partner_with_callback(live, receiver)
    _, _, submission_id = api.run_be_flow(fake_face_image(1), fake_face_image(1))
    message = message_for(api, submission_id)
    wait_for(receiver.count)
    wait_for(lambda: attempts_logged(api, message.id) >= 1)
    with api.server.services.db.session() as session:
        row = session.get(OutboxMessage, message.id)
        assert row is not None and row.status == "pending"
        wait_s = (row.next_attempt_at - utcnow()).total_seconds()
    assert 100 < wait_s <= 120  # the schedule says 5 s; the receiver asked for 120
    receiver.stop()
    api.http.close()


def test_gone_stops_and_dead_letter_can_be_resent(live: LiveServer, tmp_path: Path) -> None:
    receiver = Receiver(Script((410, {}), (500, {}))).start()
    api = partner_with_callback(live, receiver)
    _, _, first = api.run_be_flow(fake_face_image(1), fake_face_image(1))
    gone = message_for(api, first)
    wait_status(api, gone.id, "gone")
    # with the endpoint marked gone, the next message is not sent at all
    _, _, second = api.run_be_flow(fake_face_image(1), fake_face_image(1))
    parked = message_for(api, second)
    wait_status(api, parked.id, "dead")
    assert receiver.count() == 1
    # the partner fixes its endpoint; an operator resends by hand: now 500 until the schedule runs out
    env = service_env(live.services.settings.database.url, tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        assert cli_main(["callbacks", "resend", gone.id]) == 0
        for done in range(2, 9):
            fast_forward(api, gone.id, done)
        wait_status(api, gone.id, "dead")
        with api.server.services.db.session() as session:
            assert len(outbox_repo.delivery_attempts(gone.id, session=session)) == 9
        assert {r.headers["webhook-id"] for r in receiver.requests} == {gone.id}
        receiver.responder = Script((200, {}))
        assert cli_main(["callbacks", "resend", gone.id]) == 0
        wait_status(api, gone.id, "delivered")
        assert cli_main(["callbacks", "list", "--status", "delivered"]) == 0
    assert {r.headers["webhook-id"] for r in receiver.requests} == {gone.id}
    receiver.stop()
    api.http.close()


def test_a_partner_without_a_callback_url_gets_its_callbacks_kept_unsent_then_sent_once_it_has_one(
    live: LiveServer, receiver: Receiver, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = make_api(live, callback_url=None)
    _, _, submission_id = api.run_be_flow(fake_face_image(1), fake_face_image(1))
    message = message_for(api, submission_id)
    assert message.status == "unsent" and attempts_logged(api, message.id) == 0  # not dead, not tried
    env = service_env(live.services.settings.database.url, tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        assert cli_main(["callbacks", "resend", message.id]) == 2  # nowhere to send it yet
        assert "CALLBACK_NOT_CONFIGURED" in capsys.readouterr().err
        assert status_of(api, message.id) == "unsent"
        client_id = api.creds.client_id
        assert cli_main(["partner", "set-callback", client_id, receiver.url + "/hook"]) == 0
        assert cli_main(["callbacks", "resend", message.id]) == 0
    wait_status(api, message.id, "delivered")
    assert [r.headers["webhook-id"] for r in receiver.requests] == [message.id]
    assert json.loads(receiver.requests[0].body)["submissionId"] == submission_id
    api.http.close()
