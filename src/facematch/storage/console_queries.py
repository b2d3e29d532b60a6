"""Read-only queries of the operator console: submission search, the dashboard's aggregates, the
callback log and the audit log. Every function takes the session keyword-only.

Days are calendar days of the operator's zone: the stored UTC time shifted by the zone's offset,
then ``date()`` (:class:`local_day`, the same on SQLite and PostgreSQL). Lists page newest first;
exports walk the same order in chunks by keyset (``before``), so rows written meanwhile neither
repeat nor push others out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Date

from facematch.rules.states import ReviewState, SubmissionStatus
from facematch.storage.models import (
    AuditEvent,
    DeliveryAttempt,
    FlowSession,
    OutboxMessage,
    Partner,
    ReviewItem,
    Submission,
)


class local_day(FunctionElement[date]):  # noqa: N801 - a SQL function, named like one
    """``date()`` of a stored UTC time shifted by ``minutes`` (the day in the operator's zone)."""

    type = Date()
    inherit_cache = False  # the offset is compiled into the SQL: statements with it are not cached

    def __init__(self, column: Any, minutes: int) -> None:
        self.minutes = int(minutes)
        super().__init__(column)


@compiles(local_day, "sqlite")
def _local_day_sqlite(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"date({column}, '{element.minutes:+d} minutes')"


@compiles(local_day)
def _local_day_sql(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"date({column} + interval '{element.minutes:d} minutes')"


@dataclass(frozen=True, slots=True)
class SubmissionFilter:
    partner_id: str | None = None
    partner_session_id: str | None = None
    user_id: str | None = None
    any_id: str | None = None
    """A submission id, partner session id, user id or webhook id (the one search box)."""
    status: str | None = None
    result: str | None = None
    """As the partner received it: an attempt waiting for review has none yet."""
    reason_code: str | None = None
    """As the partner received it (likewise)."""
    since: datetime | None = None
    until: datetime | None = None


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _after_in_order(created: Any, ident: Any, before: tuple[datetime, str]) -> Any:
    """Rows after ``before`` in the newest-first order (created, id), for keyset paging."""
    return or_(created < before[0], and_(created == before[0], ident < before[1]))


def _by_any_id(value: str) -> Any:
    webhook = select(OutboxMessage.submission_id).where(OutboxMessage.id == value).scalar_subquery()
    return or_(
        Submission.id == value,
        FlowSession.partner_session_id == value,
        FlowSession.partner_user_id == value,
        Submission.id == webhook,
    )


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
    if f.any_id:
        query = query.where(_by_any_id(f.any_id))
    if f.status:
        query = query.where(Submission.status == f.status)
    if f.result:
        query = query.where(Submission.result == f.result, Submission.status != SubmissionStatus.IN_REVIEW)
    if f.reason_code:
        query = query.where(
            Submission.reason_code == f.reason_code, Submission.status != SubmissionStatus.IN_REVIEW
        )
    if f.since:
        query = query.where(Submission.created_at >= f.since)
    if f.until:
        query = query.where(Submission.created_at < f.until)
    return query


def search_submissions(
    f: SubmissionFilter,
    *,
    session: Session,
    limit: int,
    offset: int = 0,
    before: tuple[datetime, str] | None = None,
) -> list[tuple[Submission, FlowSession, str]]:
    """Newest first, with the flow session and partner name (``before``: only rows after that
    (created_at, id) in this order)."""
    query = _submission_query(f, (Submission, FlowSession, Partner.name))
    if before is not None:
        query = query.where(_after_in_order(Submission.created_at, Submission.id, before))
    rows = session.execute(
        query.order_by(Submission.created_at.desc(), Submission.id.desc()).limit(limit).offset(offset)
    )
    return [(row[0], row[1], row[2]) for row in rows]


def count_submissions(f: SubmissionFilter, *, session: Session) -> int:
    return int(session.scalar(_submission_query(f, (func.count(Submission.id),))) or 0)


def daily_outcomes(
    f: SubmissionFilter, minutes: int, *, session: Session
) -> list[tuple[str, str, str, str | None, str | None, int]]:
    """(day, partner id, status, result, reason code, attempts) for the filter's range; days of the
    zone ``minutes`` ahead of UTC."""
    day = local_day(Submission.created_at, minutes)
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
) -> list[tuple[datetime, str, float]]:
    """(created at, partner id, seconds from confirm to the engine's decision) of the newest ``limit``
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
        out.append((created, partner_id, max(0.0, (finished - confirmed).total_seconds())))
    return out


def similarities(f: SubmissionFilter, *, session: Session, limit: int) -> list[float]:
    query = (
        _submission_query(f, (Submission.similarity,))
        .where(Submission.similarity.is_not(None))
        .order_by(Submission.created_at.desc())
        .limit(limit)
    )
    return [float(value) for value in session.scalars(query)]


def daily_callback_attempts(
    f: SubmissionFilter, minutes: int, *, session: Session
) -> list[tuple[str, str, str, int]]:
    """(day, partner id, outcome, attempts) of callback deliveries in the range (by attempt time)."""
    day = local_day(DeliveryAttempt.at, minutes)
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
    since: datetime | None = None
    until: datetime | None = None


def _callback_query(f: CallbackFilter, columns: Any) -> Any:
    query = select(*columns).join(Partner, Partner.id == OutboxMessage.partner_id)
    if f.partner_id:
        query = query.where(OutboxMessage.partner_id == f.partner_id)
    if f.status:
        query = query.where(OutboxMessage.status == f.status)
    if f.submission_id:
        query = query.where(OutboxMessage.submission_id == f.submission_id)
    if f.since:
        query = query.where(OutboxMessage.created_at >= f.since)
    if f.until:
        query = query.where(OutboxMessage.created_at < f.until)
    return query


def list_callbacks(
    f: CallbackFilter,
    *,
    session: Session,
    limit: int,
    offset: int = 0,
    before: tuple[datetime, str] | None = None,
) -> list[tuple[OutboxMessage, str]]:
    """Outbox messages newest first with the partner name."""
    query = _callback_query(f, (OutboxMessage, Partner.name))
    if before is not None:
        query = query.where(_after_in_order(OutboxMessage.created_at, OutboxMessage.id, before))
    rows = session.execute(
        query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(limit).offset(offset)
    )
    return [(row[0], row[1]) for row in rows]


def count_callbacks(f: CallbackFilter, *, session: Session) -> int:
    return int(session.scalar(_callback_query(f, (func.count(OutboxMessage.id),))) or 0)


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
    since: datetime | None = None
    until: datetime | None = None


def _audit_query(f: AuditFilter, columns: Any) -> Any:
    query = select(*columns)
    if f.actor:
        query = query.where(AuditEvent.actor == f.actor)
    if f.submission_id:
        query = query.where(AuditEvent.submission_id == f.submission_id)
    if f.action:
        query = query.where(AuditEvent.action == f.action)
    if f.since:
        query = query.where(AuditEvent.at >= f.since)
    if f.until:
        query = query.where(AuditEvent.at < f.until)
    return query


def list_audit(
    f: AuditFilter, *, session: Session, limit: int, offset: int = 0, before: int | None = None
) -> list[AuditEvent]:
    """Events newest first (``before``: only those with a smaller id)."""
    query = _audit_query(f, (AuditEvent,))
    if before is not None:
        query = query.where(AuditEvent.id < before)
    return list(session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit).offset(offset)))


def count_audit(f: AuditFilter, *, session: Session) -> int:
    return int(session.scalar(_audit_query(f, (func.count(AuditEvent.id),))) or 0)


def audit_actions(*, session: Session) -> list[str]:
    return sorted(session.scalars(select(AuditEvent.action).distinct()))


def audit_of_submission(submission_id: str, *, session: Session) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.submission_id == submission_id).order_by(AuditEvent.id)
        )
    )


def partner_names(partner_ids: set[str], *, session: Session) -> dict[str, str]:
    if not partner_ids:
        return {}
    rows = session.execute(select(Partner.id, Partner.name).where(Partner.id.in_(partner_ids)))
    return {row.id: row.name for row in rows}
