"""The synchronous compare against a real server: a slow compare is never overwritten by the safety
net behind it, a compare past its deadline records nothing, and a full process refuses at once."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from facematch.clock import ManualClock
from facematch.engine.fake import FakeEngine, fake_face_image
from facematch.engine.types import FaceAnalysis, ImageRole
from facematch.storage.models import FlowSession, Job, OutboxMessage, Submission
from partner_client import Api, make_api
from servicekit import LiveServer, live_app, wait_for


class GatedEngine(FakeEngine):
    """The fake engine, held inside ``analyze`` while the gate is closed (a slow compare, on cue)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def analyze(self, image: bytes, role: ImageRole) -> FaceAnalysis:
        self.entered.set()
        assert self.gate.wait(60)
        return super().analyze(image, role)


#: the job lease of these servers (short: time is moved by the tests, not waited for)
LEASE_S = 1.0


def files() -> dict[str, tuple[str, bytes, str]]:
    return {
        "selfie": ("s.png", fake_face_image(5), "image/png"),
        "reference": ("r.png", fake_face_image(5), "image/png"),
    }


def compare(api: Api, psid: str) -> httpx.Response:
    headers = {"x-onekyc-token": api.partner_token(), "x-partner-session-id": psid, **api.user_headers()}
    return api.http.post("/coe-partner/v1/face-match", headers=headers, files=files())


@contextlib.contextmanager
def server(
    database_url: str, tmp_path: Path, engine: GatedEngine, clock: ManualClock | None = None, **env: str
) -> Iterator[tuple[LiveServer, Api]]:
    with live_app(
        database_url,
        tmp_path,
        engine=engine,
        clock=clock,
        FACEMATCH_SUBMISSIONS__JOB_LEASE_S=str(LEASE_S),
        FACEMATCH_SUBMISSIONS__POLL_INTERVAL_S="0.05",
        **env,
    ) as live:
        api = make_api(live, callback_url=None)
        try:
            yield live, api
        finally:
            api.http.close()


def in_background(call: Any) -> tuple[threading.Thread, list[httpx.Response]]:
    out: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: out.append(call()))
    thread.start()
    return thread, out


def _job_of(live: LiveServer, psid: str) -> Job | None:
    with live.services.db.session() as session:
        job = session.scalar(
            select(Job)
            .join(Submission, Submission.id == Job.submission_id)
            .join(FlowSession, FlowSession.id == Submission.session_id)
            .where(FlowSession.partner_session_id == psid)
        )
        if job is not None:
            session.expunge(job)
        return job


def test_a_compare_slower_than_the_job_lease_keeps_its_own_result(database_url: str, tmp_path: Path) -> None:
    engine = GatedEngine()
    clock = ManualClock()
    with server(database_url, tmp_path, engine, clock) as (live, api):
        psid = str(uuid.uuid4())
        engine.gate.clear()
        thread, answers = in_background(lambda: compare(api, psid))
        assert engine.entered.wait(30)
        # three lease lengths pass while the compare is held, half a lease at a time; after each
        # step the request's heartbeat renews its safety-net job's lease in the new time, while
        # workers poll every 50 ms: before leases, the job fell due after one length and was
        # decided ERROR over the compare's head
        for _ in range(6):
            before = _job_of(live, psid)
            assert before is not None and before.lease_until is not None
            clock.advance(LEASE_S / 2)
            wait_for(lambda b=before: (_job_of(live, psid) or b).lease_until > b.lease_until)  # type: ignore[operator]
        job = _job_of(live, psid)
        assert job is not None and job.state == "running" and job.tries == 1
        assert job.lease_owner is not None and job.lease_owner.startswith("sync-")
        engine.gate.set()
        thread.join(30)
        data = answers[0].json()["data"]
        assert answers[0].status_code == 200 and (data["status"], data["result"]) == ("COMPLETED", "VALID")
        with live.services.db.session() as session:
            done = session.scalar(select(Job).where(Job.submission_id == data["submissionId"]))
            assert done is not None and done.state == "done" and done.tries == 1
            messages = session.scalars(
                select(OutboxMessage).where(OutboxMessage.submission_id == data["submissionId"])
            ).all()
            assert len(messages) == 1 and '"result":"VALID"' in messages[0].body


def test_a_compare_past_its_deadline_records_nothing_and_can_be_retried(
    database_url: str, tmp_path: Path
) -> None:
    engine = GatedEngine()
    # the safety net's lease lives in the manual clock's time, which stands still: however long a
    # loaded machine takes, only the request's own 1 s deadline passes
    with server(
        database_url, tmp_path, engine, ManualClock(), FACEMATCH_SUBMISSIONS__SYNC_DEADLINE_S="1"
    ) as (live, api):
        psid = str(uuid.uuid4())
        engine.gate.clear()
        thread, answers = in_background(lambda: compare(api, psid))
        assert engine.entered.wait(10)
        time.sleep(1.5)
        engine.gate.set()
        thread.join(30)
        late = answers[0]
        assert late.status_code == 503
        assert late.json()["errors"][0] == {"code": "903", "cause": "SERVICE_UNAVAILABLE"}
        assert int(late.headers["retry-after"]) >= 1
        assert api.details(x_partner_session_id=psid).status_code == 400  # nothing was recorded
        with live.services.db.session() as session:
            assert session.scalar(select(FlowSession).where(FlowSession.partner_session_id == psid)) is None
        again = compare(api, psid)  # the same session id is free
        assert again.status_code == 200 and again.json()["data"]["result"] == "VALID"


def test_the_deadline_holds_while_an_unusable_image_is_still_being_analysed(
    database_url: str, tmp_path: Path
) -> None:
    engine = GatedEngine()
    with server(
        database_url, tmp_path, engine, ManualClock(), FACEMATCH_SUBMISSIONS__SYNC_DEADLINE_S="1"
    ) as (live, api):
        psid = str(uuid.uuid4())
        engine.gate.clear()
        headers = {"x-onekyc-token": api.partner_token(), "x-partner-session-id": psid, **api.user_headers()}
        no_face = {
            "selfie": ("s.png", fake_face_image(5, faces=0), "image/png"),
            "reference": ("r.png", fake_face_image(5), "image/png"),
        }
        thread, answers = in_background(
            lambda: api.http.post("/coe-partner/v1/face-match", headers=headers, files=no_face)
        )
        assert engine.entered.wait(10)
        thread.join(60)
        # answered while the analysis is still held: at the deadline, not when the analysis ends
        assert not engine.gate.is_set() and answers and answers[0].status_code == 503
        assert answers[0].json()["errors"][0]["cause"] == "SERVICE_UNAVAILABLE"
        with live.services.db.session() as session:  # forgotten already: a retry is free at once
            assert session.scalar(select(FlowSession).where(FlowSession.partner_session_id == psid)) is None
        engine.gate.set()
        wait_for(lambda: live.services.analysis.busy == 0)  # the analysis ended, and recorded nothing
        with live.services.db.session() as session:
            assert session.scalar(select(FlowSession).where(FlowSession.partner_session_id == psid)) is None
        again = api.http.post("/coe-partner/v1/face-match", headers=headers, files=no_face)
        assert again.status_code == 200 and again.json()["data"]["status"] == "COMPLETED"


def test_a_full_process_refuses_a_compare_at_once(database_url: str, tmp_path: Path) -> None:
    engine = GatedEngine()
    with server(
        database_url,
        tmp_path,
        engine,
        FACEMATCH_LIMITS__ANALYSIS_SLOTS="1",
        FACEMATCH_LIMITS__ANALYSIS_QUEUE="0",
        # a request that waited for the slot would hang until the gate opens: a 503 while it is
        # closed shows the refusal came at once, whatever the machine's speed
        FACEMATCH_LIMITS__ANALYSIS_WAIT_S="600",
    ) as (_, api):
        engine.gate.clear()
        first_psid = str(uuid.uuid4())
        thread, answers = in_background(lambda: compare(api, first_psid))
        assert engine.entered.wait(10)
        psid = str(uuid.uuid4())
        refused = compare(api, psid)
        assert refused.status_code == 503 and int(refused.headers["retry-after"]) >= 1
        assert refused.json()["errors"][0]["cause"] == "SERVICE_UNAVAILABLE"
        engine.gate.set()
        thread.join(30)
        assert answers[0].status_code == 200
        assert api.details(x_partner_session_id=psid).status_code == 400  # the refused one left nothing
        assert compare(api, psid).status_code == 200


@pytest.fixture
def quick_api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    with server(database_url, tmp_path, GatedEngine()) as (_, api):
        yield api


def test_an_interrupted_compare_is_finished_by_a_worker_once_its_lease_lapses(quick_api: Api) -> None:
    """The safety net still works: a request whose process died (its lease lapsed) ends ERROR."""
    svc = quick_api.server.services
    psid = str(uuid.uuid4())
    assert compare(quick_api, psid).status_code == 200
    with svc.db.session() as session:
        submission = session.scalar(
            select(Submission)
            .join(FlowSession, FlowSession.id == Submission.session_id)
            .where(FlowSession.partner_session_id == psid)
        )
        assert submission is not None
        submission_id = submission.id
    from facematch.flows import processing
    from facematch.storage import job_repo

    # what a crash leaves: an undecided direct attempt whose request stopped heart-beating
    fresh = str(uuid.uuid4())
    with svc.db.session() as session:
        session.add(
            Submission(
                id=fresh,
                partner_id=submission.partner_id,
                session_id=submission.session_id,
                attempt=2,
                status="IN_PROGRESS",
                metadata_json={processing.DIRECT: True},
                details={},
            )
        )
        session.flush()
        job_repo.enqueue_leased_job(fresh, submission.partner_id, "a-dead-request", 0.01, session=session)

    def decided() -> bool:
        with svc.db.session() as session:
            row = session.get(Submission, fresh)
            return row is not None and row.status == "ERROR"

    wait_for(decided)
    with svc.db.session() as session:
        row = session.get(Submission, fresh)
        assert row is not None and row.error_message == "the synchronous compare was interrupted"
        assert session.get(Submission, submission_id) is not None
