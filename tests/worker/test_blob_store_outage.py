"""A job whose images sit in S3 while S3 is down (SeaweedFS stopped): it is retried with backoff
without spending its tries, ends ERROR saying why only once the outage has outlasted its budget (in
the services' clock), and completes normally when S3 is back in time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from facematch.clock import ManualClock
from facematch.engine.fake import FakeEngine, fake_face_image
from facematch.flows.context import Services
from facematch.services import build_services
from facematch.storage.models import Job, OutboxMessage, Submission
from facematch.worker.queue import run_one
from s3kit import SeaweedFS
from servicekit import make_settings, seed_confirmed


@pytest.fixture
def svc(database_url: str, tmp_path: Path, s3_env: dict[str, str]) -> Iterator[Services]:
    services = build_services(
        make_settings(
            database_url,
            tmp_path,
            FACEMATCH_SUBMISSIONS__JOB_MAX_TRIES="3",
            FACEMATCH_SUBMISSIONS__TRANSIENT_BUDGET_S="300",
            **s3_env,
        ),
        engine=FakeEngine(),
        clock=ManualClock(),
    )
    yield services
    services.db.dispose()


def confirmed_submission(svc: Services) -> str:
    return seed_confirmed(svc, fake_face_image(1), fake_face_image(1))


def run_now(svc: Services, submission_id: str) -> None:
    """Run the submission's job at once (skipping the backoff its last failure set)."""
    with svc.db.session() as session:
        session.execute(
            update(Job).where(Job.submission_id == submission_id).values(available_at=svc.clock.now())
        )
    assert run_one(svc, "w")


def state(svc: Services, submission_id: str) -> tuple[Submission, Job]:
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        job = session.scalar(select(Job).where(Job.submission_id == submission_id))
        assert submission is not None and job is not None
        session.expunge_all()
        return submission, job


def test_the_job_waits_for_s3_and_completes_once_it_is_back(svc: Services, seaweedfs: SeaweedFS) -> None:
    submission_id = confirmed_submission(svc)
    with seaweedfs.stopped():
        run_now(svc, submission_id)
        submission, job = state(svc, submission_id)
        assert submission.status == "IN_PROGRESS"  # not decided: the images exist, S3 is just away
        assert job.state == "queued" and job.tries == 1 and job.available_at > svc.clock.now()  # backoff
        assert "BlobStoreUnavailableError" in (job.last_error or "")
        assert job.failures == 0 and job.transient_since is not None  # waited out, not counted
    run_now(svc, submission_id)
    submission, job = state(svc, submission_id)
    assert (submission.status, submission.result) == ("COMPLETED", "VALID") and job.state == "done"


def test_the_job_waits_out_its_budget_then_ends_error_and_says_why(
    svc: Services, seaweedfs: SeaweedFS
) -> None:
    submission_id = confirmed_submission(svc)
    assert isinstance(svc.clock, ManualClock)
    with seaweedfs.stopped():
        run_now(svc, submission_id)
        # far more tries and far longer than the three tries (about 6 s) that once ended it
        for seconds in (30, 60, 100, 100):  # 290 s of outage: still waiting
            svc.clock.advance(seconds)
            run_now(svc, submission_id)
            submission, job = state(svc, submission_id)
            assert submission.status == "IN_PROGRESS" and job.state == "queued" and job.failures == 0
        svc.clock.advance(10)  # the budget is spent
        run_now(svc, submission_id)
    submission, job = state(svc, submission_id)
    assert (submission.status, submission.reason_code) == ("ERROR", "VERIFICATION_FAILED")
    assert submission.error_message == (
        "the image store could not read an image: unreachable; gave up after retrying"
    )
    assert job.state == "done" and job.tries == 6 and job.failures == 0
    with svc.db.session() as session:  # a final result, so the partner is told
        assert session.scalar(select(OutboxMessage).where(OutboxMessage.submission_id == submission_id))


def test_a_missing_object_is_decided_at_once(svc: Services, seaweedfs: SeaweedFS) -> None:
    submission_id = confirmed_submission(svc)
    submission, _ = state(svc, submission_id)
    assert submission.selfie_blob is not None
    svc.blobs.delete(submission.selfie_blob)  # S3 is up, the object is gone
    run_now(svc, submission_id)
    submission, job = state(svc, submission_id)
    assert (submission.status, submission.error_message) == ("ERROR", "stored image unreadable")
    assert job.tries == 1
