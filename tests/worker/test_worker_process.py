"""API and worker processes apart: an API process with no background work, a worker process that
decides and calls back, drains on SIGTERM, wakes on NOTIFY; migrations that start at once; fair
claims when one partner's reference server hangs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from facematch.engine.fake import fake_face_image
from facematch.storage.db import Database, current_revision
from facematch.storage.models import Job, Submission
from partner_client import Api, make_api
from servicekit import (
    Receiver,
    ServerProcess,
    WorkerProcess,
    create_partner,
    free_port,
    live_app,
    service_env,
    wait_for,
)

NO_BACKGROUND = {"FACEMATCH_SUBMISSIONS__WORKERS": "0", "FACEMATCH_CALLBACKS__WORKERS": "0"}


def postgresql_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only (the suite runs again on PostgreSQL)")


def background_threads() -> set[str]:
    prefixes = ("facematch-worker", "facematch-deliveries", "facematch-sweeper", "facematch-listener")
    return {thread.name for thread in threading.enumerate() if thread.name.startswith(prefixes)}


def test_an_api_process_without_workers_runs_no_background_work(database_url: str, tmp_path: Path) -> None:
    before = background_threads()
    with live_app(database_url, tmp_path, **NO_BACKGROUND) as live:
        assert background_threads() == before
        api = make_api(live)
        *_, submission_id = api.run_be_flow(fake_face_image(1), fake_face_image(1))
        time.sleep(1.0)
        with live.services.db.session() as session:
            submission = session.get(Submission, submission_id)
            job = session.scalar(select(Job).where(Job.submission_id == submission_id))
            assert submission is not None and submission.status == "IN_PROGRESS"
            assert job is not None and job.state == "queued"  # waiting for a worker process
        api.http.close()


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    receiver = Receiver(lambda _r, _q: (204, {}, b"")).start()
    yield receiver
    receiver.stop()


@pytest.fixture
def api_process(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(database_url, tmp_path, free_port(), tmp_path / "api.log", **NO_BACKGROUND)
    yield server.start()
    server.stop()


def partner_api(server: ServerProcess, database_url: str, **options: object) -> Api:
    db = Database(database_url)
    try:
        creds = create_partner(db, **options)
    finally:
        db.dispose()
    return Api(server, creds, httpx.Client(base_url=server.url, timeout=30))  # type: ignore[arg-type]


def test_a_worker_process_decides_and_calls_back(
    database_url: str, tmp_path: Path, api_process: ServerProcess, hooks: Receiver
) -> None:
    api = partner_api(api_process, database_url, callback_url=hooks.url + "/hook")
    worker = WorkerProcess(database_url, tmp_path, free_port(), tmp_path / "worker.log").start()
    try:
        token, psid, submission_id = api.run_be_flow(fake_face_image(1), fake_face_image(1))
        assert api.wait_decided(token, psid, submission_id)["status"] == "COMPLETED"
        wait_for(lambda: hooks.count() >= 1)
        metrics = httpx.get(worker.url + "/metrics").text
        for name in ("facematch_jobs_queued", "facematch_callbacks_pending", "facematch_submissions_total"):
            assert name in metrics
        assert httpx.get(worker.url + "/readyz").json() == {
            "status": "ready",
            "database": True,
            "engine": True,
            "blobs": True,
        }
    finally:
        worker.stop()
        api.http.close()


def test_sigterm_drains_and_hands_back_a_job_it_cannot_finish(
    database_url: str, tmp_path: Path, api_process: ServerProcess
) -> None:
    release = threading.Event()
    # the reference server answers only when the test ends: a worker that waited for the job
    # instead of handing it back after its drain timeout would never exit
    hanging = Receiver(lambda _r, _q: (release.wait(300), (200, {}, b""))[1]).start()
    api = partner_api(api_process, database_url)
    worker = WorkerProcess(
        database_url,
        tmp_path,
        free_port(),
        tmp_path / "worker.log",
        FACEMATCH_SUBMISSIONS__DRAIN_TIMEOUT_S="1",
        FACEMATCH_REFERENCE__TOTAL_TIMEOUT_S="600",
    ).start()
    db = Database(database_url)
    try:
        psid = str(uuid.uuid4())
        token = api.initiate(
            psid,
            {
                "flow": "FACE_MATCH",
                "source": "SDK",
                "additionalDetails": {"referenceImageUrl": hanging.url + "/r"},
            },
        ).json()["data"]["token"]
        _, _, submission_id = api.run_be_flow(fake_face_image(1), None, psid=psid, user="user-1", token=token)

        def running() -> Job | None:
            with db.session() as session:
                job = session.scalar(select(Job).where(Job.submission_id == submission_id))
                return job if job is not None and job.state == "running" else None

        wait_for(running)  # the worker waits on the partner's reference server
        assert worker.process is not None
        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(120) == 0
        with db.session() as session:
            job = session.scalar(select(Job).where(Job.submission_id == submission_id))
            assert job is not None and job.state == "queued" and job.lease_owner is None and job.tries == 0
            submission = session.get(Submission, submission_id)
            assert submission is not None and submission.status == "IN_PROGRESS"
    finally:
        release.set()
        worker.stop()
        hanging.stop()
        db.dispose()
        api.http.close()


def test_notify_wakes_an_idle_worker_at_once(
    database_url: str, tmp_path: Path, api_process: ServerProcess
) -> None:
    postgresql_only(database_url)
    api = partner_api(api_process, database_url)
    worker = WorkerProcess(
        database_url,
        tmp_path,
        free_port(),
        tmp_path / "worker.log",
        FACEMATCH_SUBMISSIONS__POLL_INTERVAL_S="3600",
    ).start()
    try:
        time.sleep(1.0)  # its first poll is over: from now on only a notification wakes it
        token, psid, submission_id = api.run_be_flow(fake_face_image(1), fake_face_image(1))
        # decided at all (the wait gives up long before the hour's poll): a notification woke it
        api.wait_decided(token, psid, submission_id)
    finally:
        worker.stop()
        api.http.close()


def test_processes_that_migrate_at_once_do_not_race(database_url: str, tmp_path: Path) -> None:
    postgresql_only(database_url)
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(database_url)
    name = f"fm_migrate_{uuid.uuid4().hex[:8]}"
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = parsed.set(database=name).render_as_string(hide_password=False)
    try:
        env = {**os.environ, **service_env(url, tmp_path)}
        binary = Path(sys.executable).with_name("facematch")
        runs = [
            subprocess.Popen([str(binary), "db", "upgrade"], env=env, stdout=subprocess.DEVNULL)
            for _ in range(4)
        ]
        assert [run.wait(120) for run in runs] == [0, 0, 0, 0]
        assert current_revision(url) is not None
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_partner_whose_reference_server_hangs_does_not_hold_up_the_others(
    database_url: str, tmp_path: Path
) -> None:
    release = threading.Event()
    # the reference server answers only when the test ends: were the quick partner's job queued
    # behind the hanging ones, it would not be decided before then
    hanging = Receiver(lambda _r, _q: (release.wait(300), (200, {}, b""))[1]).start()
    with live_app(database_url, tmp_path, FACEMATCH_REFERENCE__TOTAL_TIMEOUT_S="600") as live:
        slow, quick = make_api(live), make_api(live)
        try:
            for _ in range(2):  # the default two CPU workers: before, these held both for 12 s and more
                psid = str(uuid.uuid4())
                body = {
                    "flow": "FACE_MATCH",
                    "source": "SDK",
                    "additionalDetails": {"referenceImageUrl": hanging.url + "/reference"},
                }
                token = slow.initiate(psid, body).json()["data"]["token"]
                slow.run_be_flow(fake_face_image(1), None, psid=psid, token=token)
            wait_for(lambda: hanging.count() >= 2)
            token, psid, submission_id = quick.run_be_flow(fake_face_image(2), fake_face_image(2))
            quick.wait_decided(token, psid, submission_id)
        finally:
            release.set()
            slow.http.close()
            quick.http.close()
            hanging.stop()
