"""Queries. Every function takes the session keyword-only; none commits (the caller's unit of work does)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
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


def abandoned_retry_sessions(idle_before: datetime, limit: int, *, session: Session) -> list[str]:
    """Flow sessions whose latest attempt offered a retry (not final, next action RETRY) and was
    decided before ``idle_before``: the user walked away."""
    later = aliased(Submission)
    return list(
        session.scalars(
            select(Submission.session_id)
            .where(
                Submission.final.is_(False),
                Submission.next_action == "RETRY",
                Submission.completed_at < idle_before,
                ~select(later.id)
                .where(later.session_id == Submission.session_id, later.attempt > Submission.attempt)
                .exists(),
            )
            .order_by(Submission.completed_at)
            .limit(limit)
        )
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


def enqueue_job(submission_id: str, *, session: Session, delay_s: float = 0.0) -> None:
    """A durable job row; ``delay_s`` holds it back (a safety net behind synchronous work)."""
    available = utcnow() + timedelta(seconds=delay_s)
    session.add(Job(submission_id=submission_id, state="queued", available_at=available))


def claim_job(owner: str, lease_s: float, *, session: Session) -> Job | None:
    """Lease one due job: queued, or running with an expired lease (its worker died)."""
    now = utcnow()
    candidate = session.scalar(
        select(Job)
        .where(
            or_(
                (Job.state == "queued") & (Job.available_at <= now),
                (Job.state == "running") & (Job.lease_until < now),
            )
        )
        .order_by(Job.available_at, Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
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
