"""Read-only queries of the operator console: submission search, the dashboard's aggregates, the
callback log and the audit log. Every function takes the session keyword-only.

Days are UTC calendar days (``date()`` of the stored UTC time, the same on SQLite and PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facematch.rules.states import ReviewState
from facematch.storage.models import (
    AuditEvent,
    DeliveryAttempt,
    FlowSession,
    OutboxMessage,
    Partner,
    ReviewItem,
    Submission,
)


@dataclass(frozen=True, slots=True)
class SubmissionFilter:
    partner_id: str | None = None
    partner_session_id: str | None = None
    user_id: str | None = None
    status: str | None = None
    result: str | None = None
    reason_code: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _submission_query(f: SubmissionFilter, columns: Any) -> Any:
    query = (
        select(*columns)
        .join(FlowSession, FlowSession.id == Submission.session_id)
        .join(Partner, Partner.id == Submission.partner_id)
    )
    if f.partner_id:
        query = query.where(Submission.partner_id == f.partner_id)
    if f.partner_session_id:
        query = query.where(FlowSession.partner_session_id == f.partner_session_id)
    if f.user_id:
        query = query.where(FlowSession.partner_user_id == f.user_id)
    if f.status:
        query = query.where(Submission.status == f.status)
    if f.result:
        query = query.where(Submission.result == f.result)
    if f.reason_code:
        query = query.where(Submission.reason_code == f.reason_code)
    if f.since:
        query = query.where(Submission.created_at >= f.since)
    if f.until:
        query = query.where(Submission.created_at < f.until)
    return query


def search_submissions(
    f: SubmissionFilter, *, session: Session, limit: int, offset: int
) -> tuple[list[tuple[Submission, FlowSession, str]], int]:
    """Newest first, with the flow session and partner name; and the total count."""
    rows = session.execute(
        _submission_query(f, (Submission, FlowSession, Partner.name))
        .order_by(Submission.created_at.desc(), Submission.id)
        .limit(limit)
        .offset(offset)
    )
    total = session.scalar(_submission_query(f, (func.count(Submission.id),)))
    return [(row[0], row[1], row[2]) for row in rows], int(total or 0)


def daily_outcomes(
    f: SubmissionFilter, *, session: Session
) -> list[tuple[str, str, str, str | None, str | None, int]]:
    """(day, partner id, status, result, reason code, attempts) for the filter's range."""
    day = func.date(Submission.created_at)
    query = _submission_query(
        f,
        (
            day,
            Submission.partner_id,
            Submission.status,
            Submission.result,
            Submission.reason_code,
            func.count(),
        ),
    ).group_by(day, Submission.partner_id, Submission.status, Submission.result, Submission.reason_code)
    return [(_day(r[0]), r[1], r[2], r[3], r[4], int(r[5])) for r in session.execute(query)]


def engine_decision_times(
    f: SubmissionFilter, *, session: Session, limit: int
) -> list[tuple[str, str, float]]:
    """(day, partner id, seconds from confirm to the engine's decision) of the newest ``limit``
    decided attempts; for reviewed attempts the engine decided when the item entered the queue."""
    decided = func.coalesce(ReviewItem.created_at, Submission.completed_at)
    query = (
        _submission_query(f, (Submission.created_at, Submission.partner_id, Submission.confirmed_at, decided))
        .outerjoin(ReviewItem, ReviewItem.submission_id == Submission.id)
        .where(Submission.confirmed_at.is_not(None), decided.is_not(None))
        .order_by(Submission.created_at.desc())
        .limit(limit)
    )
    out = []
    for created, partner_id, confirmed, finished in session.execute(query):
        out.append((created.date().isoformat(), partner_id, max(0.0, (finished - confirmed).total_seconds())))
    return out


def similarities(f: SubmissionFilter, *, session: Session, limit: int) -> list[float]:
    query = (
        _submission_query(f, (Submission.similarity,))
        .where(Submission.similarity.is_not(None))
        .order_by(Submission.created_at.desc())
        .limit(limit)
    )
    return [float(value) for value in session.scalars(query)]


def daily_callback_attempts(f: SubmissionFilter, *, session: Session) -> list[tuple[str, str, str, int]]:
    """(day, partner id, outcome, attempts) of callback deliveries in the range (by attempt time)."""
    day = func.date(DeliveryAttempt.at)
    query = (
        select(day, OutboxMessage.partner_id, DeliveryAttempt.outcome, func.count())
        .join(OutboxMessage, OutboxMessage.id == DeliveryAttempt.message_id)
        .group_by(day, OutboxMessage.partner_id, DeliveryAttempt.outcome)
    )
    if f.partner_id:
        query = query.where(OutboxMessage.partner_id == f.partner_id)
    if f.since:
        query = query.where(DeliveryAttempt.at >= f.since)
    if f.until:
        query = query.where(DeliveryAttempt.at < f.until)
    return [(_day(r[0]), r[1], r[2], int(r[3])) for r in session.execute(query)]


def outbox_counts(*, session: Session, partner_id: str | None = None) -> dict[str, int]:
    query = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    if partner_id:
        query = query.where(OutboxMessage.partner_id == partner_id)
    return {status: int(count) for status, count in session.execute(query)}


def open_reviews_by_partner(*, session: Session) -> list[tuple[str, int, datetime]]:
    """(partner id, open items, oldest entry) for partners with open items."""
    query = (
        select(ReviewItem.partner_id, func.count(), func.min(ReviewItem.created_at))
        .where(ReviewItem.state == ReviewState.OPEN)
        .group_by(ReviewItem.partner_id)
    )
    return [(r[0], int(r[1]), r[2]) for r in session.execute(query)]


@dataclass(frozen=True, slots=True)
class CallbackFilter:
    partner_id: str | None = None
    status: str | None = None
    submission_id: str | None = None


def list_callbacks(
    f: CallbackFilter, *, session: Session, limit: int, offset: int
) -> tuple[list[tuple[OutboxMessage, str]], int]:
    """Outbox messages newest first with the partner name, and the total count."""

    def where(query: Any) -> Any:
        if f.partner_id:
            query = query.where(OutboxMessage.partner_id == f.partner_id)
        if f.status:
            query = query.where(OutboxMessage.status == f.status)
        if f.submission_id:
            query = query.where(OutboxMessage.submission_id == f.submission_id)
        return query

    rows = session.execute(
        where(select(OutboxMessage, Partner.name).join(Partner, Partner.id == OutboxMessage.partner_id))
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id)
        .limit(limit)
        .offset(offset)
    )
    total = session.scalar(where(select(func.count(OutboxMessage.id))))
    return [(row[0], row[1]) for row in rows], int(total or 0)


def attempts_of(message_ids: list[str], *, session: Session) -> dict[str, list[DeliveryAttempt]]:
    out: dict[str, list[DeliveryAttempt]] = {mid: [] for mid in message_ids}
    if not message_ids:
        return out
    query = (
        select(DeliveryAttempt)
        .where(DeliveryAttempt.message_id.in_(message_ids))
        .order_by(DeliveryAttempt.message_id, DeliveryAttempt.id)
    )
    for attempt in session.scalars(query):
        out[attempt.message_id].append(attempt)
    return out


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None
    submission_id: str | None = None
    action: str | None = None


def list_audit(f: AuditFilter, *, session: Session, limit: int, offset: int) -> tuple[list[AuditEvent], int]:
    def where(query: Any) -> Any:
        if f.actor:
            query = query.where(AuditEvent.actor == f.actor)
        if f.submission_id:
            query = query.where(AuditEvent.submission_id == f.submission_id)
        if f.action:
            query = query.where(AuditEvent.action == f.action)
        return query

    rows = session.scalars(
        where(select(AuditEvent)).order_by(AuditEvent.id.desc()).limit(limit).offset(offset)
    )
    total = session.scalar(where(select(func.count(AuditEvent.id))))
    return list(rows), int(total or 0)


def audit_actions(*, session: Session) -> list[str]:
    return sorted(session.scalars(select(AuditEvent.action).distinct()))


def audit_of_submission(submission_id: str, *, session: Session) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.submission_id == submission_id).order_by(AuditEvent.id)
        )
    )
