"""Kill the server (SIGKILL) while submissions are queued, processing, or a callback is in flight;
start it again: nothing accepted is lost, and each final attempt yields one logical callback."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from facematch.engine.fake import fake_face_image
from facematch.storage.db import Database
from facematch.storage.models import OutboxMessage, Submission
from servicekit import (
    ONBOARDING,
    PartnerCreds,
    ReceivedRequest,
    Receiver,
    ServerProcess,
    create_partner,
    free_port,
    wait_for,
)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


class Client:
    """A backend-to-backend partner that retries each step when the server is down."""

    def __init__(self, url: str, creds: PartnerCreds) -> None:
        self.http = httpx.Client(base_url=url, timeout=10)
        self.creds = creds
        self._token: str | None = None

    def close(self) -> None:
        self.http.close()

    def _retry(self, call: object) -> httpx.Response:
        # as long as a restart may take on a loaded machine (servicekit's start bound): only a hang ends it
        deadline = time.monotonic() + 300
        while True:
            try:
                return call()  # type: ignore[operator,no-any-return]
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def token(self) -> str:
        if self._token is None:
            headers = {
                "client-id": self.creds.client_id,
                "pass-key": self.creds.passkey,
                "x-partner-user-id": "u",
                "x-partner-user-id-type": "T",
                "x-onboarding-partner": ONBOARDING,
            }
            response = self._retry(lambda: self.http.get("/v2/coe/authentication", headers=headers))
            self._token = response.json()["data"]["token"]
        return self._token

    def submit(self, psid: str, selfie: bytes, reference: bytes) -> str:
        """Presign, upload both, confirm; returns the submission id once it is surely confirmed."""
        headers = {"x-onekyc-token": self.token(), "x-partner-session-id": psid, "x-sdk-session-id": "sdk"}
        while True:
            response = self._retry(
                lambda: self.http.get(
                    "/coe/v1/submissions/urls", params={"submissionType": "FACE_MATCH"}, headers=headers
                )
            )
            if response.status_code == 409:  # an earlier try was confirmed before a kill
                return self._latest(psid)
            data = response.json()["data"]
            for doc, image in (("SELFIE", selfie), ("REFERENCE", reference)):
                url = data["documents"][doc]["documentUrl"]
                self._retry(lambda url=url, image=image: httpx.put(url, content=image, timeout=10))
            body = {"submissionId": data["submissionId"]}
            confirm = self._retry(
                lambda body=body: self.http.put("/coe/v1/submissions/urls", headers=headers, json=body)
            )
            if confirm.status_code in (200, 409):
                return str(data["submissionId"])

    def _latest(self, psid: str) -> str:
        partner_token = self._retry(
            lambda: self.http.get(
                "/v1/coe/partner/authentication",
                headers={"client-id": self.creds.client_id, "pass-key": self.creds.passkey},
            )
        ).json()["data"]["token"]
        response = self._retry(
            lambda: self.http.get(
                "/coe/v1/submissions", headers={"x-onekyc-token": partner_token, "x-partner-session-id": psid}
            )
        )
        return str(response.json()["data"]["submissionId"])


def decided(db: Database, ids: list[str]) -> int:
    with db.session() as session:
        return int(
            session.scalar(
                select(func.count()).where(
                    Submission.id.in_(ids), Submission.status.in_(("COMPLETED", "ERROR"))
                )
            )
            or 0
        )


def test_confirmed_before_a_crash_is_processed_after_restart(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    creds = create_partner(db)
    port = free_port()
    idle = ServerProcess(
        database_url, tmp_path, port, tmp_path / "server.log", FACEMATCH_SUBMISSIONS__WORKERS="0"
    )
    idle.start()
    client = Client(idle.url, creds)
    ids = [client.submit(str(uuid.uuid4()), fake_face_image(1), fake_face_image(1)) for _ in range(3)]
    with db.session() as session:
        assert all(session.get(Submission, i).status == "IN_PROGRESS" for i in ids)  # type: ignore[union-attr]
    idle.kill()
    worker = ServerProcess(database_url, tmp_path, port, tmp_path / "server.log").start()
    try:
        wait_for(lambda: decided(db, ids) == 3, timeout=30)
    finally:
        worker.stop()
        client.close()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_200_submissions_with_kills_at_random_points_all_reach_a_final_state(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    webhook_ids: dict[str, set[str]] = {}
    lock = threading.Lock()

    def record(_: Receiver, request: ReceivedRequest) -> tuple[int, dict[str, str], bytes]:
        payload = Webhook(creds.webhook_secret).verify(request.body, request.headers)
        with lock:
            webhook_ids.setdefault(payload["submissionId"], set()).add(request.headers["webhook-id"])
        return 204, {}, b""

    receiver = Receiver(record).start()
    creds = create_partner(db, callback_url=receiver.url + "/hook")
    port = free_port()
    log = tmp_path / "server.log"
    server = ServerProcess(database_url, tmp_path, port, log, FM_TEST_ENGINE_DELAY="0.02").start()
    client = Client(server.url, creds)
    rng = random.Random(20260101)
    # 12 kills, each at a random moment shortly after a random submission was confirmed: requests,
    # queued jobs, running jobs and callbacks in flight are all hit somewhere along the way
    kill_after = set(rng.sample(range(5, 195), 12))
    due = threading.Event()
    stop = threading.Event()
    kills = 0

    def killer() -> None:
        nonlocal server, kills
        while not stop.is_set():
            if not due.wait(0.1):
                continue
            due.clear()
            time.sleep(rng.uniform(0.0, 0.3))
            server.kill()
            kills += 1
            server = ServerProcess(database_url, tmp_path, port, log, FM_TEST_ENGINE_DELAY="0.02").start()

    thread = threading.Thread(target=killer)
    thread.start()
    ids: list[str] = []
    try:
        try:
            for number in range(200):
                person = number % 7
                ids.append(
                    client.submit(
                        f"crash-{uuid.uuid4()}", fake_face_image(person), fake_face_image(person % 3)
                    )
                )
                if number in kill_after:
                    due.set()
        finally:
            wait_for(lambda: not due.is_set(), timeout=300)
            stop.set()
            thread.join()
        wait_for(lambda: decided(db, ids) == len(ids), timeout=300)
        wait_for(lambda: len(webhook_ids) == len(ids), timeout=300)
    finally:  # whatever failed, no server is left running
        server.stop()
        client.close()
        receiver.stop()
    print(f"200 submissions, {kills} SIGKILLs, {len(webhook_ids)} callbacks")
    assert kills >= 10
    assert len(set(ids)) == 200
    with db.session() as session:
        statuses = dict(
            session.execute(select(Submission.id, Submission.status).where(Submission.id.in_(ids))).all()
        )
        messages = session.scalar(select(func.count()).where(OutboxMessage.submission_id.in_(ids)))
    assert set(statuses.values()) <= {"COMPLETED", "ERROR"} and len(statuses) == 200
    assert messages == 200  # one logical callback per submission
    assert all(len(seen) == 1 for seen in webhook_ids.values())  # duplicates (if any) share their id


def test_kill_between_200_received_and_marked_delivered_resends_the_same_id(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    servers: list[ServerProcess] = []

    def freeze_sender(_: ReceivedRequest) -> None:
        # the sender is stopped before it can read our 200, then killed once it is on the wire
        if len(receiver.requests) == 1:
            assert servers[-1].process is not None
            os.kill(servers[-1].process.pid, signal.SIGSTOP)

    def kill_sender(_: ReceivedRequest) -> None:
        if len(receiver.requests) == 1:
            servers[-1].kill()

    receiver = Receiver(
        lambda _r, _q: (200, {}, b"ok"), before_reply=freeze_sender, on_request=kill_sender
    ).start()
    creds = create_partner(db, callback_url=receiver.url + "/hook")
    servers.append(ServerProcess(database_url, tmp_path, port, log).start())
    client = Client(servers[0].url, creds)
    submission_id = client.submit(str(uuid.uuid4()), fake_face_image(1), fake_face_image(1))
    wait_for(lambda: receiver.count() >= 1)
    wait_for(lambda: servers[0].process is not None and servers[0].process.poll() is not None)
    with db.session() as session:
        message = session.scalar(select(OutboxMessage).where(OutboxMessage.submission_id == submission_id))
        assert message is not None and message.status == "pending"  # the 200 was never recorded
    servers.append(ServerProcess(database_url, tmp_path, port, log).start())
    try:
        wait_for(lambda: receiver.count() >= 2, timeout=30)
        wait_for(lambda: _status(db, message.id) == "delivered")
    finally:
        servers[-1].stop()
        client.close()
        receiver.stop()
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert ids == [message.id, message.id]
    for request in receiver.requests:
        Webhook(creds.webhook_secret).verify(request.body, request.headers)


def _status(db: Database, message_id: str) -> str:
    with db.session() as session:
        message = session.get(OutboxMessage, message_id)
        return message.status if message else ""
