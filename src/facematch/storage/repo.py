"""Queries. Every function takes the session keyword-only; none commits (the caller's unit of work does)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.orm import Session, aliased

from facematch.storage.models import (
    AuditEvent,
    DeliveryAttempt,
    FlowSession,
    Job,
    OutboxMessage,
    Partner,
    Submission,
    utcnow,
)


def partner_by_client_id(client_id: str, *, session: Session) -> Partner | None:
    return session.scalar(select(Partner).where(Partner.client_id == client_id))


def partner_by_id(partner_id: str, *, session: Session) -> Partner | None:
    return session.get(Partner, partner_id)


def list_partners(*, session: Session) -> list[Partner]:
    return list(session.scalars(select(Partner).order_by(Partner.created_at)))


def flow_session_by_psid(partner_id: str, partner_session_id: str, *, session: Session) -> FlowSession | None:
    return session.scalar(
        select(FlowSession).where(
            FlowSession.partner_id == partner_id, FlowSession.partner_session_id == partner_session_id
        )
    )


def submission_of_partner(partner_id: str, submission_id: str, *, session: Session) -> Submission | None:
    """The submission, only if it belongs to ``partner_id`` (tenant isolation lives in the query)."""
    return session.scalar(
        select(Submission).where(Submission.id == submission_id, Submission.partner_id == partner_id)
    )


def latest_submission(session_id: str, *, session: Session) -> Submission | None:
    return session.scalar(
        select(Submission)
        .where(Submission.session_id == session_id)
        .order_by(Submission.attempt.desc())
        .limit(1)
    )


def session_attempts(session_id: str, *, session: Session) -> list[Submission]:
    """Every attempt of a flow session, oldest first."""
    return list(
        session.scalars(
            select(Submission).where(Submission.session_id == session_id).order_by(Submission.attempt)
        )
    )


def retry_windows(*, session: Session) -> list[tuple[str, int]]:
    """(partner id, retry window in seconds) of every partner."""
    return [(row[0], int(row[1])) for row in session.execute(select(Partner.id, Partner.retry_window_s))]


def idle_retry_sessions(partner_id: str, idle_before: datetime, limit: int, *, session: Session) -> list[str]:
    """The partner's flow sessions whose latest decided attempt offered a retry (not final, next
    action RETRY) before ``idle_before`` and that nothing happened in since: no later attempt was
    confirmed, and none was started after ``idle_before``."""
    later = aliased(Submission)
    return list(
        session.scalars(
            select(Submission.session_id)
            .where(
                Submission.partner_id == partner_id,
                Submission.final.is_(False),
                Submission.next_action == "RETRY",
                Submission.completed_at < idle_before,
                ~select(later.id)
                .where(
                    later.session_id == Submission.session_id,
                    later.attempt > Submission.attempt,
                    or_(later.status != "INITIATED", later.created_at >= idle_before),
                )
                .exists(),
            )
            .order_by(Submission.completed_at)
            .limit(limit)
        )
    )


def count_refused_capture(flow_session_id: str, *, session: Session) -> None:
    session.execute(
        update(FlowSession)
        .where(FlowSession.id == flow_session_id)
        .values(refused_captures=FlowSession.refused_captures + 1)
        .execution_options(synchronize_session=False)
    )


def count_attempts(session_id: str, *, session: Session) -> int:
    return int(session.scalar(select(func.count()).where(Submission.session_id == session_id)) or 0)


def audit(
    actor: str,
    action: str,
    submission_id: str | None,
    *,
    session: Session,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    source: str | None = None,
) -> None:
    """One audit event: who (``partner:<id>``, ``operator:<id>``, ``system:<task>``) did what, and why."""
    session.add(
        AuditEvent(
            actor=actor,
            action=action,
            submission_id=submission_id,
            reason=reason[:500] if reason else None,
            details=details or {},
            source=source,
        )
    )


# --- jobs -----------------------------------------------------------------------------------------


JOBS_CHANNEL = "facematch_jobs"
OUTBOX_CHANNEL = "facematch_outbox"


def notify(channel: str, *, session: Session) -> None:
    """PostgreSQL: wake the workers listening on ``channel`` when this transaction commits (a
    NOTIFY is delivered at commit, so never for work that was rolled back). Elsewhere: nothing;
    workers poll."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": channel})


def enqueue_job(submission_id: str, partner_id: str, *, session: Session, delay_s: float = 0.0) -> None:
    """A durable job row, due now (or after ``delay_s``), announced to listening workers at commit."""
    available = utcnow() + timedelta(seconds=delay_s)
    session.add(
        Job(submission_id=submission_id, partner_id=partner_id, state="queued", available_at=available)
    )
    notify(JOBS_CHANNEL, session=session)


def enqueue_leased_job(
    submission_id: str, partner_id: str, owner: str, lease_s: float, *, session: Session
) -> int:
    """A job already running under ``owner``'s lease (synchronous work with a safety net behind it:
    if the owner stops heart-beating, a worker retakes the job). Returns the job id."""
    now = utcnow()
    job = Job(
        submission_id=submission_id,
        partner_id=partner_id,
        state="running",
        tries=1,
        available_at=now,
        lease_owner=owner,
        lease_until=now + timedelta(seconds=lease_s),
    )
    session.add(job)
    session.flush()
    return job.id


def claim_job(owner: str, lease_s: float, *, session: Session, per_partner: int | None = None) -> Job | None:
    """Lease one due job: queued, or running with an expired lease (its worker died).

    Fair across partners: the partner with the fewest jobs running (with a live lease, in any
    process) goes first, then the oldest job; a partner already running ``per_partner`` jobs waits
    (a soft cap: two processes claiming at the same instant may both pass it)."""
    now = utcnow()
    running = aliased(Job)
    in_flight = (
        select(func.count(running.id))
        .where(running.partner_id == Job.partner_id, running.state == "running", running.lease_until >= now)
        .scalar_subquery()
    )
    query = select(Job).where(
        or_(
            (Job.state == "queued") & (Job.available_at <= now),
            (Job.state == "running") & (Job.lease_until < now),
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
        .where(Job.id == candidate.id, or_(Job.state == "queued", Job.lease_until < now))
        .values(
            state="running",
            lease_owner=owner,
            lease_until=now + timedelta(seconds=lease_s),
            tries=Job.tries + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.refresh(candidate)
    return candidate


def extend_job_lease(job_id: int, owner: str, lease_s: float, *, session: Session) -> bool:
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner, Job.state == "running")
        .values(lease_until=utcnow() + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def finish_job(submission_id: str, *, session: Session) -> None:
    session.execute(
        update(Job)
        .where(Job.submission_id == submission_id)
        .values(state="done", lease_owner=None, lease_until=None, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def release_job(job_id: int, error: str, delay_s: float, *, session: Session) -> None:
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(
            state="queued",
            lease_owner=None,
            lease_until=None,
            last_error=error[:2000],
            available_at=utcnow() + timedelta(seconds=delay_s),
        )
        .execution_options(synchronize_session=False)
    )


def delete_direct_attempt(submission_id: str, flow_session_id: str, *, session: Session) -> None:
    """Remove a synchronous compare's rows (its job, its submission, its partner session)."""
    session.execute(delete(Job).where(Job.submission_id == submission_id))
    session.execute(delete(Submission).where(Submission.id == submission_id))
    session.execute(delete(FlowSession).where(FlowSession.id == flow_session_id))


def hand_back_jobs(job_ids: list[int], owner: str, *, session: Session) -> int:
    """Give up ``owner``'s leases on running jobs (a worker stopping): due again at once, and the
    try this owner took is not counted."""
    result = session.execute(
        update(Job)
        .where(Job.id.in_(job_ids), Job.lease_owner == owner, Job.state == "running")
        .values(
            state="queued", lease_owner=None, lease_until=None, available_at=utcnow(), tries=Job.tries - 1
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
    due = (Job.state == "queued") & (Job.available_at <= now)
    jobs_due, oldest_job = session.execute(
        select(func.count(Job.id), func.min(Job.available_at)).where(due)
    ).one()
    running = session.execute(
        select(Job.partner_id, func.count(Job.id))
        .where(Job.state == "running", Job.lease_until >= now)
        .group_by(Job.partner_id)
    ).all()
    pending = (OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= now)
    callbacks, oldest_callback = session.execute(
        select(func.count(OutboxMessage.id), func.min(OutboxMessage.next_attempt_at)).where(pending)
    ).one()
    dead = session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "dead")) or 0

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


def count_jobs(state: str, *, session: Session) -> int:
    return int(session.scalar(select(func.count()).where(Job.state == state)) or 0)


# --- callback outbox ------------------------------------------------------------------------------


def claim_outbox(owner: str, lease_s: float, *, session: Session) -> OutboxMessage | None:
    """Lease one due callback (pending and due, with no live lease)."""
    now = utcnow()
    candidate = session.scalar(
        select(OutboxMessage)
        .where(
            OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
        )
        .order_by(OutboxMessage.next_attempt_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if candidate is None:
        return None
    claimed = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == candidate.id,
            OutboxMessage.status == "pending",
            or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
        )
        .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.refresh(candidate)
    return candidate


def list_outbox(
    status: str | None, partner_id: str | None, *, session: Session, limit: int = 100
) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.created_at.desc()).limit(limit)
    if status:
        query = query.where(OutboxMessage.status == status)
    if partner_id:
        query = query.where(OutboxMessage.partner_id == partner_id)
    return list(session.scalars(query))


def delivery_attempts(message_id: str, *, session: Session) -> list[DeliveryAttempt]:
    return list(
        session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.message_id == message_id)
            .order_by(DeliveryAttempt.attempt)
        )
    )


def submissions_with_images_before(cutoff: datetime, *, session: Session) -> list[Submission]:
    return list(
        session.scalars(
            select(Submission).where(
                Submission.created_at < cutoff,
                Submission.images_purged_at.is_(None),
                or_(Submission.selfie_blob.is_not(None), Submission.reference_blob.is_not(None)),
            )
        )
    )


def unconfirmed_attempts_before(cutoff: datetime, *, session: Session) -> list[Submission]:
    """Attempts created before ``cutoff`` that were never confirmed."""
    return list(
        session.scalars(
            select(Submission).where(Submission.status == "INITIATED", Submission.created_at < cutoff)
        )
    )


def delete_unconfirmed_attempt(submission_id: str, *, session: Session) -> bool:
    """Delete an attempt that is still unconfirmed (a conditional DELETE: a confirm that commits
    first wins). True when it was deleted."""
    result = session.execute(
        delete(Submission)
        .where(Submission.id == submission_id, Submission.status == "INITIATED")
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def referenced_blobs(blob_ids: list[str], *, session: Session) -> set[str]:
    """Which of ``blob_ids`` an attempt still refers to."""
    rows = session.execute(
        select(Submission.selfie_blob, Submission.reference_blob).where(
            or_(Submission.selfie_blob.in_(blob_ids), Submission.reference_blob.in_(blob_ids))
        )
    )
    wanted = set(blob_ids)
    return {blob for row in rows for blob in row if blob in wanted}
