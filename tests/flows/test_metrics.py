"""The cluster's queue gauges, read from the database at each scrape."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from facematch.flows.context import Services
from facematch.flows.metrics import QueueGauges
from facematch.rules.states import DeliveryState
from facematch.storage import job_repo, outbox_repo
from facematch.storage.models import Job, OutboxMessage, utcnow
from servicekit import create_partner, seed_submission


def _queued(svc: Services, partner_id: str, age_s: float) -> str:
    submission_id = seed_submission(svc.db, partner_id)
    with svc.db.session() as session:
        job_repo.enqueue_job(submission_id, partner_id, session=session)
        session.flush()
        session.execute(
            update(Job)
            .where(Job.submission_id == submission_id)
            .values(available_at=utcnow() - timedelta(seconds=age_s))
        )
    return submission_id


def _message(svc: Services, partner_id: str, status: DeliveryState, age_s: float) -> None:
    submission_id = seed_submission(svc.db, partner_id)
    message_id = f"msg_{submission_id[:8]}"
    with svc.db.session() as session:
        outbox_repo.add_message(
            message_id, partner_id, submission_id, "submission.completed", "{}", session=session
        )
        session.flush()
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(status=status, next_attempt_at=utcnow() - timedelta(seconds=age_s))
        )


def test_the_queue_gauges_tell_the_clusters_state(fake_services: Services) -> None:
    svc = fake_services
    busy, quiet = create_partner(svc.db).partner_id, create_partner(svc.db).partner_id
    for age in (300, 200, 100):
        _queued(svc, busy, age)
    _queued(svc, quiet, 50)
    for owner in ("w1", "w2"):  # the oldest, then (fair claims) the quiet partner's, are running
        with svc.db.session() as session:
            assert job_repo.claim_job(owner, 30, session=session) is not None
    _message(svc, busy, DeliveryState.PENDING, 90)
    _message(svc, quiet, DeliveryState.PENDING, 10)
    _message(svc, quiet, DeliveryState.DEAD, 0)
    _message(svc, quiet, DeliveryState.UNSENT, 500)  # a partner without a callback URL: neither

    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in QueueGauges(svc.db).collect()
        for sample in family.samples
    }

    assert samples[("facematch_jobs_queued", ())] == 2  # the busy partner's two younger jobs
    assert 195 <= samples[("facematch_jobs_oldest_queued_seconds", ())] < 260
    assert samples[("facematch_jobs_running", (("partner", busy),))] == 1
    assert samples[("facematch_jobs_running", (("partner", quiet),))] == 1
    assert samples[("facematch_callbacks_pending", ())] == 2
    assert 85 <= samples[("facematch_callbacks_oldest_pending_seconds", ())] < 150
    assert samples[("facematch_callbacks_dead", ())] == 1
