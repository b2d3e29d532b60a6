"""The durable job table: leases, takeover after a dead worker, retries, idempotent decisions."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from facematch.config import Settings
from facematch.engine.fake import FakeEngine, fake_face_image
from facematch.errors import BlobStoreUnavailableError
from facematch.flows import processing
from facematch.flows.context import Services
from facematch.rules import decisions
from facematch.services import build_services
from facematch.storage import job_repo, submission_repo
from facematch.storage.models import FlowSession, Job, OutboxMessage, Submission, utcnow
from facematch.worker.queue import AbandonedSweeper, run_one, sweep_abandoned, transient_delay
from servicekit import create_partner, make_settings, seed_confirmed, seed_submission, wait_for


@pytest.fixture
def svc(fake_services: Services) -> Services:
    return fake_services


def confirmed_submission(svc: Services, selfie: bytes = fake_face_image(1), *, direct: bool = False) -> str:
    return seed_confirmed(
        svc,
        selfie,
        None if direct else fake_face_image(1),
        metadata_json={processing.DIRECT: True} if direct else {},
    )


def job_of(svc: Services, submission_id: str) -> Job:
    with svc.db.session() as session:
        job = session.scalar(select(Job).where(Job.submission_id == submission_id))
        assert job is not None
        session.expunge(job)
        return job


def drain(svc: Services, owner: str = "test") -> None:
    while run_one(svc, owner):
        pass


def test_a_job_is_leased_once_and_decided(svc: Services) -> None:
    submission_id = confirmed_submission(svc)
    with svc.db.session() as session:
        first = job_repo.claim_job("a", 30, session=session)
        assert first is not None and first.submission_id == submission_id
    with svc.db.session() as session:
        assert job_repo.claim_job("b", 30, session=session) is None  # leased by "a"
    with svc.db.session() as session:  # "a" died: its lease runs out
        session.execute(
            update(Job)
            .where(Job.submission_id == submission_id)
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
    drain(svc, "b")
    job = job_of(svc, submission_id)
    assert job.state == "done" and job.tries == 2
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None and submission.result == "VALID"


def test_failing_job_is_retried_then_ends_as_error(svc: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    submission_id = confirmed_submission(svc)
    calls: list[str] = []

    def broken(_: Services, sid: str) -> None:
        calls.append(sid)
        raise RuntimeError("boom")

    for _ in range(svc.settings.submissions.job_max_tries):
        with svc.db.session() as session:  # skip the backoff
            session.execute(
                update(Job).where(Job.submission_id == submission_id).values(available_at=utcnow())
            )
        assert run_one(svc, "w", job=broken)
    assert len(calls) == svc.settings.submissions.job_max_tries
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None and (submission.status, submission.reason_code) == (
            "ERROR",
            "VERIFICATION_FAILED",
        )
        assert session.scalar(select(OutboxMessage).where(OutboxMessage.submission_id == submission_id))
    assert job_of(svc, submission_id).state == "done"


def test_deciding_twice_changes_nothing_and_makes_one_callback(svc: Services) -> None:
    submission_id = confirmed_submission(svc)
    drain(svc)
    assert processing.record_decision(svc, submission_id, decisions.unexpected_failure()) is False
    processing.process_submission(svc, submission_id)  # a redelivered job is a no-op
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None and submission.result == "VALID"
        messages = session.scalars(
            select(OutboxMessage).where(OutboxMessage.submission_id == submission_id)
        ).all()
    assert len(messages) == 1


def test_missing_engine_is_retried_not_lost(settings: Settings, tmp_path: Path) -> None:
    services = build_services(settings)  # no engine yet
    try:
        submission_id = confirmed_submission(services)
        assert run_one(services, "w")
        job = job_of(services, submission_id)
        assert (job.state == "queued" and "SERVICE_UNAVAILABLE" in (job.last_error or "")) or "engine" in (
            job.last_error or ""
        )
    finally:
        services.db.dispose()


def test_an_interrupted_synchronous_compare_ends_as_error(svc: Services) -> None:
    submission_id = confirmed_submission(svc, direct=True)
    drain(svc)
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None
        assert (submission.status, submission.reason_code) == ("ERROR", "VERIFICATION_FAILED")


def test_a_job_that_keeps_killing_its_worker_ends_as_error(svc: Services) -> None:
    submission_id = confirmed_submission(svc)
    limit = svc.settings.submissions.job_max_crashes
    with svc.db.session() as session:  # each earlier try died with its process (no except ran)
        session.execute(
            update(Job)
            .where(Job.submission_id == submission_id)
            .values(
                state="running", tries=limit, crashes=limit - 1, lease_until=utcnow() - timedelta(seconds=1)
            )
        )
    calls: list[str] = []

    def never(_: Services, sid: str) -> None:
        calls.append(sid)

    assert run_one(svc, "w", job=never)  # this take-over is the last crash it is allowed
    assert calls == []
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None
        assert (submission.status, submission.reason_code) == ("ERROR", "VERIFICATION_FAILED")
        messages = session.scalars(
            select(OutboxMessage).where(OutboxMessage.submission_id == submission_id)
        ).all()
    assert len(messages) == 1
    job = job_of(svc, submission_id)
    assert job.state == "done" and job.crashes == limit
    assert not run_one(svc, "w", job=never)


def _crash(svc: Services, owner: str) -> None:
    """``owner`` takes the job (due at once) and dies with it: its lease lapses."""
    with svc.db.session() as session:
        session.execute(update(Job).values(available_at=utcnow()))
    with svc.db.session() as session:
        job = job_repo.claim_job(owner, 30, session=session)
        assert job is not None
        session.execute(
            update(Job).where(Job.id == job.id).values(lease_until=utcnow() - timedelta(seconds=1))
        )


def test_worker_crashes_do_not_spend_the_tries_of_failures(svc: Services) -> None:
    submission_id = confirmed_submission(svc)
    settings = svc.settings.submissions
    assert settings.job_max_tries == 3 and settings.job_max_crashes > 3

    def broken(_: Services, sid: str) -> None:
        raise RuntimeError("boom")

    for _ in range(settings.job_max_tries - 1):  # every failure it may have but the last
        with svc.db.session() as session:  # skip the backoff
            session.execute(
                update(Job).where(Job.submission_id == submission_id).values(available_at=utcnow())
            )
        assert run_one(svc, "w", job=broken)
        _crash(svc, "dies")  # and a crash after each (the worker killed during the next try)
    _crash(svc, "dies too")
    job = job_of(svc, submission_id)
    # five takes: two failed, two died with their worker (each crash is seen by the next take), one
    # died just now
    assert (job.failures, job.crashes, job.tries) == (2, 2, 5)
    assert run_one(svc, "w")  # taken over (a third crash), and still it runs and is decided
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None and (submission.status, submission.result) == ("COMPLETED", "VALID")
    job = job_of(svc, submission_id)
    assert job.state == "done" and (job.failures, job.crashes, job.tries) == (2, 3, 6)


def test_an_unreachable_store_or_database_is_waited_out_not_counted(svc: Services) -> None:
    submission_id = confirmed_submission(svc)
    outage = [
        BlobStoreUnavailableError("the image store could not read an image: unreachable"),
        OperationalError("SELECT 1", {}, Exception("connection refused")),
    ]

    def unreachable(_: Services, sid: str) -> None:
        raise outage[len(failures_seen) % 2]

    failures_seen: list[datetime | None] = []
    for _ in range(svc.settings.submissions.job_max_tries * 3):
        with svc.db.session() as session:  # skip the backoff
            session.execute(
                update(Job).where(Job.submission_id == submission_id).values(available_at=utcnow())
            )
        assert run_one(svc, "w", job=unreachable)
        job = job_of(svc, submission_id)
        expected = type(outage[len(failures_seen) % 2]).__name__
        assert job.state == "queued" and job.failures == 0 and expected in (job.last_error or "")
        failures_seen.append(job.transient_since)
    # one outage, counted from its start, and no failure spent
    assert failures_seen[0] is not None and set(failures_seen) == {failures_seen[0]}
    with svc.db.session() as session:
        session.execute(update(Job).where(Job.submission_id == submission_id).values(available_at=utcnow()))
    drain(svc)  # the store is back
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None and submission.result == "VALID"


@pytest.mark.parametrize(
    ("waited", "delay"), [(0, 1.0), (1, 1.0), (10, 5.0), (59, 29.5), (100, 30.0), (290, 10.0)]
)
def test_waiting_out_an_outage_backs_off_to_the_end_of_the_budget(waited: float, delay: float) -> None:
    assert transient_delay(waited, 300.0) == delay


def decided_attempt(
    svc: Services, partner_id: str, *, idle_s: float, next_action: str = "RETRY", later: bool = False
) -> str:
    """An interactive session whose attempt 1 was decided ``idle_s`` ago (and maybe an attempt 2)."""
    flow_id = str(uuid.uuid4())
    with svc.db.session() as session:
        session.add(
            FlowSession(
                id=flow_id,
                partner_id=partner_id,
                partner_session_id=flow_id,
                partner_user_id="u",
                partner_user_id_type="T",
                source="WEB_SDK",
                interactive=True,
            )
        )
        session.flush()
        for attempt in (1, 2) if later else (1,):
            session.add(
                Submission(
                    id=str(uuid.uuid4()),
                    partner_id=partner_id,
                    session_id=flow_id,
                    attempt=attempt,
                    status="COMPLETED" if attempt == 1 else "INITIATED",
                    result="INVALID" if attempt == 1 else None,
                    reason_code="INVALID_DOCUMENT" if attempt == 1 else None,
                    next_action=next_action if attempt == 1 else None,
                    final=next_action != "RETRY" if attempt == 1 else False,
                    details={},
                    completed_at=utcnow() - timedelta(seconds=idle_s) if attempt == 1 else None,
                )
            )
    return flow_id


def callbacks_of(svc: Services, flow_id: str) -> list[OutboxMessage]:
    with svc.db.session() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .join(Submission, Submission.id == OutboxMessage.submission_id)
                .where(Submission.session_id == flow_id)
            )
        )


def test_the_worker_finishes_sessions_left_after_a_retry(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_url,
        tmp_path,
        FACEMATCH_SUBMISSIONS__SWEEP_INTERVAL_S="0.05",
    )
    svc = build_services(settings, engine=FakeEngine())
    try:
        partner_id = create_partner(svc.db, retry_window_s=60).partner_id
        abandoned = decided_attempt(svc, partner_id, idle_s=120)
        recent = decided_attempt(svc, partner_id, idle_s=10)
        retried = decided_attempt(svc, partner_id, idle_s=120, later=True)
        already_final = decided_attempt(svc, partner_id, idle_s=120, next_action="STATUS")
        sweepers = [AbandonedSweeper(svc), AbandonedSweeper(svc)]  # two processes' workers
        for sweeper in sweepers:
            sweeper.start()
        try:
            wait_for(lambda: callbacks_of(svc, abandoned))
            time.sleep(0.2)  # a few more sweeps (fewer on a loaded machine: the test holds either way)
        finally:
            for sweeper in sweepers:
                sweeper.stop()
        assert len(callbacks_of(svc, abandoned)) == 1
        with svc.db.session() as session:
            latest = submission_repo.latest_submission(abandoned, session=session)
            assert latest is not None and latest.final and latest.next_action in ("STATUS", "EXIT")
        for untouched in (recent, retried, already_final):
            assert callbacks_of(svc, untouched) == []
        assert sweep_abandoned(svc) == 0
    finally:
        svc.db.dispose()


def _due_jobs(svc: Services, partner_id: str, count: int, *, age_s: float) -> list[str]:
    """``count`` confirmed submissions of one partner whose jobs have been due for ``age_s``."""
    ids = []
    for _ in range(count):
        submission_id = seed_confirmed_for(svc, partner_id)
        with svc.db.session() as session:
            session.execute(
                update(Job)
                .where(Job.submission_id == submission_id)
                .values(available_at=utcnow() - timedelta(seconds=age_s))
            )
        ids.append(submission_id)
    return ids


def seed_confirmed_for(svc: Services, partner_id: str) -> str:
    """A confirmed attempt of ``partner_id`` with its job queued."""
    submission_id = seed_submission(svc.db, partner_id)
    with svc.db.session() as session:
        job_repo.enqueue_job(submission_id, partner_id, session=session)
    return submission_id


def test_claims_go_to_the_partner_with_the_fewest_jobs_running(svc: Services) -> None:
    """A partner's burst (older jobs, one already running) does not make another partner wait."""
    busy, quiet = create_partner(svc.db).partner_id, create_partner(svc.db).partner_id
    burst = _due_jobs(svc, busy, 4, age_s=60)
    with svc.db.session() as session:
        running = job_repo.claim_job("w1", 30, session=session)
        assert running is not None and running.submission_id == burst[0]  # the oldest job first
    [newcomer] = _due_jobs(svc, quiet, 1, age_s=1)
    with svc.db.session() as session:
        claimed = job_repo.claim_job("w2", 30, session=session)
        assert claimed is not None and claimed.submission_id == newcomer  # not the busy partner's older jobs
    with svc.db.session() as session:
        stats = job_repo.queue_stats(session=session)
    assert stats.running_per_partner == {busy: 1, quiet: 1} and stats.jobs_due == 3
    assert 55 <= stats.oldest_due_age_s <= 120


def test_a_partner_at_its_cap_waits_while_others_are_claimed(svc: Services) -> None:
    busy, quiet = create_partner(svc.db).partner_id, create_partner(svc.db).partner_id
    _due_jobs(svc, busy, 3, age_s=60)
    for owner in ("w1", "w2"):
        with svc.db.session() as session:
            assert job_repo.claim_job(owner, 30, session=session, per_partner=2) is not None
    with svc.db.session() as session:  # the busy partner runs 2 of its cap of 2: its third job waits
        assert job_repo.claim_job("w3", 30, session=session, per_partner=2) is None
    [newcomer] = _due_jobs(svc, quiet, 1, age_s=1)
    with svc.db.session() as session:
        claimed = job_repo.claim_job("w3", 30, session=session, per_partner=2)
        assert claimed is not None and claimed.submission_id == newcomer
