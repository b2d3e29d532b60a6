"""The job queue's queries: durable jobs, leases, fair claims across partners, and the queues' figures.

A job row is written in the confirm's transaction, so an accepted submission can never be lost
between "accepted" and "queued". Every function takes the session keyword-only; none commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from facematch.rules.states import DeliveryState, JobState
from facematch.storage.channels import JOBS_CHANNEL, notify
from facematch.storage.models import Job, OutboxMessage, utcnow


def enqueue_job(
    submission_id: str,
    partner_id: str,
    *,
    session: Session,
    delay_s: float = 0.0,
    now: datetime | None = None,
) -> None:
    """A durable job row, due ``now`` (or ``delay_s`` after it), announced to listening workers at
    commit."""
    available = (now or utcnow()) + timedelta(seconds=delay_s)
    session.add(
        Job(submission_id=submission_id, partner_id=partner_id, state=JobState.QUEUED, available_at=available)
    )
    notify(JOBS_CHANNEL, session=session)


def enqueue_leased_job(
    submission_id: str,
    partner_id: str,
    owner: str,
    lease_s: float,
    *,
    session: Session,
    now: datetime | None = None,
) -> int:
    """A job already running under ``owner``'s lease (synchronous work with a safety net behind it:
    if the owner stops heart-beating, a worker retakes the job). Returns the job id."""
    now = now or utcnow()
    job = Job(
        submission_id=submission_id,
        partner_id=partner_id,
        state=JobState.RUNNING,
        tries=1,
        available_at=now,
        lease_owner=owner,
        lease_until=now + timedelta(seconds=lease_s),
    )
    session.add(job)
    session.flush()
    return job.id


def claim_job(
    owner: str,
    lease_s: float,
    *,
    session: Session,
    per_partner: int | None = None,
    now: datetime | None = None,
) -> Job | None:
    """Lease one due job: queued, or running with an expired lease (its worker died: counted in
    ``crashes``).

    Fair across partners: the partner with the fewest jobs running (with a live lease, in any
    process) goes first, then the oldest job; a partner already running ``per_partner`` jobs waits
    (a soft cap: two processes claiming at the same instant may both pass it)."""
    now = now or utcnow()
    running = aliased(Job)
    in_flight = (
        select(func.count(running.id))
        .where(
            running.partner_id == Job.partner_id,
            running.state == JobState.RUNNING,
            running.lease_until >= now,
        )
        .scalar_subquery()
    )
    query = select(Job).where(
        or_(
            (Job.state == JobState.QUEUED) & (Job.available_at <= now),
            (Job.state == JobState.RUNNING) & (Job.lease_until < now),
        )
    )
    if per_partner is not None:
        query = query.where(in_flight < per_partner)
    candidate = session.scalar(
        query.order_by(in_flight, Job.available_at, Job.id).limit(1).with_for_update(skip_locked=True, of=Job)
    )
    if candidate is None:
        return None
    claimed = session.execute(
        update(Job)
        .where(Job.id == candidate.id, or_(Job.state == JobState.QUEUED, Job.lease_until < now))
        .values(
            state=JobState.RUNNING,
            lease_owner=owner,
            lease_until=now + timedelta(seconds=lease_s),
            tries=Job.tries + 1,
            # a running job with a lapsed lease: the worker that had it died
            crashes=Job.crashes + case((Job.state == JobState.RUNNING, 1), else_=0),
        )
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.refresh(candidate)
    return candidate


def extend_job_lease(
    job_id: int, owner: str, lease_s: float, *, session: Session, now: datetime | None = None
) -> bool:
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner, Job.state == JobState.RUNNING)
        .values(lease_until=(now or utcnow()) + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def finish_job(submission_id: str, *, session: Session) -> None:
    session.execute(
        update(Job)
        .where(Job.submission_id == submission_id)
        .values(state=JobState.DONE, lease_owner=None, lease_until=None, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def release_job(
    job_id: int,
    owner: str,
    error: str,
    delay_s: float,
    *,
    failures: int,
    transient_since: datetime | None,
    session: Session,
    now: datetime | None = None,
) -> bool:
    """Hand ``owner``'s try back to the queue, due after ``delay_s``, with the job's count of
    failures and the start of its outage (None: none); False when the lease was no longer
    ``owner``'s (another worker took the job over meanwhile: it is left alone)."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner, Job.state == JobState.RUNNING)
        .values(
            state=JobState.QUEUED,
            lease_owner=None,
            lease_until=None,
            last_error=error[:2000],
            failures=failures,
            transient_since=transient_since,
            available_at=(now or utcnow()) + timedelta(seconds=delay_s),
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def hand_back_jobs(job_ids: list[int], owner: str, *, session: Session) -> int:
    """Give up ``owner``'s leases on running jobs (a worker stopping): due again at once, and the
    try this owner took is not counted."""
    result = session.execute(
        update(Job)
        .where(Job.id.in_(job_ids), Job.lease_owner == owner, Job.state == JobState.RUNNING)
        .values(
            state=JobState.QUEUED,
            lease_owner=None,
            lease_until=None,
            available_at=utcnow(),
            tries=Job.tries - 1,
        )
        .execution_options(synchronize_session=False)
    )
    notify(JOBS_CHANNEL, session=session)
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class QueueStats:
    """The cluster's queues as the database holds them."""

    jobs_due: int
    oldest_due_age_s: float
    running_per_partner: dict[str, int]
    callbacks_pending: int
    oldest_callback_age_s: float
    callbacks_dead: int


def queue_stats(*, session: Session) -> QueueStats:
    now = utcnow()
    due = (Job.state == JobState.QUEUED) & (Job.available_at <= now)
    jobs_due, oldest_job = session.execute(
        select(func.count(Job.id), func.min(Job.available_at)).where(due)
    ).one()
    running = session.execute(
        select(Job.partner_id, func.count(Job.id))
        .where(Job.state == JobState.RUNNING, Job.lease_until >= now)
        .group_by(Job.partner_id)
    ).all()
    pending = (OutboxMessage.status == DeliveryState.PENDING) & (OutboxMessage.next_attempt_at <= now)
    callbacks, oldest_callback = session.execute(
        select(func.count(OutboxMessage.id), func.min(OutboxMessage.next_attempt_at)).where(pending)
    ).one()
    dead = (
        session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.status == DeliveryState.DEAD))
        or 0
    )

    def age(moment: datetime | None) -> float:
        return 0.0 if moment is None else max(0.0, (now - moment).total_seconds())

    return QueueStats(
        jobs_due=int(jobs_due or 0),
        oldest_due_age_s=age(oldest_job),
        running_per_partner={str(partner): int(count) for partner, count in running},
        callbacks_pending=int(callbacks or 0),
        oldest_callback_age_s=age(oldest_callback),
        callbacks_dead=int(dead),
    )
