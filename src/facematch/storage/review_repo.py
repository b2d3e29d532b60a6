"""Queries of the review queue. Every function takes the session keyword-only; none commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from facematch.storage.models import FlowSession, Partner, ReviewItem, Submission


def open_items(
    *, session: Session, partner_id: str | None = None, limit: int = 50, offset: int = 0
) -> list[tuple[ReviewItem, FlowSession, str]]:
    """Open items, oldest first, with their flow session and partner name."""
    query = (
        select(ReviewItem, FlowSession, Partner.name)
        .join(Submission, Submission.id == ReviewItem.submission_id)
        .join(FlowSession, FlowSession.id == Submission.session_id)
        .join(Partner, Partner.id == ReviewItem.partner_id)
        .where(ReviewItem.state == "open")
        .order_by(ReviewItem.created_at, ReviewItem.submission_id)
        .limit(limit)
        .offset(offset)
    )
    if partner_id:
        query = query.where(ReviewItem.partner_id == partner_id)
    return [(row[0], row[1], row[2]) for row in session.execute(query)]


def count_open(*, session: Session, partner_id: str | None = None) -> int:
    query = select(func.count()).select_from(ReviewItem).where(ReviewItem.state == "open")
    if partner_id:
        query = query.where(ReviewItem.partner_id == partner_id)
    return int(session.scalar(query) or 0)


def oldest_open(*, session: Session, partner_id: str | None = None) -> datetime | None:
    query = select(func.min(ReviewItem.created_at)).where(ReviewItem.state == "open")
    if partner_id:
        query = query.where(ReviewItem.partner_id == partner_id)
    oldest: datetime | None = session.scalar(query)
    return oldest


def close_item(submission_id: str, values: dict[str, Any], *, session: Session) -> bool:
    """Decide an open item; False when it was no longer open (someone, or its deadline, was first)."""
    result = session.execute(
        update(ReviewItem)
        .where(ReviewItem.submission_id == submission_id, ReviewItem.state == "open")
        .values(state="decided", **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def overdue(now: datetime, limit: int, *, session: Session) -> list[str]:
    return list(
        session.scalars(
            select(ReviewItem.submission_id)
            .where(ReviewItem.state == "open", ReviewItem.due_at <= now)
            .order_by(ReviewItem.due_at)
            .limit(limit)
        )
    )
