"""Queries of the review queue. Every function takes the session keyword-only; none commits."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from facematch.rules.review_band import Band
from facematch.rules.states import ReviewState
from facematch.storage.models import FlowSession, Partner, ReviewItem, ReviewPolicy, Submission, utcnow


def _band(policy: ReviewPolicy) -> Band:
    return Band(policy.band_low, policy.band_high, policy.deadline_s, policy.default_outcome)


def band_of(partner_id: str, *, session: Session) -> Band | None:
    """The partner's review band, or None (the engine decides everything)."""
    policy = session.get(ReviewPolicy, partner_id)
    return None if policy is None else _band(policy)


def bands(*, session: Session) -> dict[str, Band]:
    """Every partner's review band, by partner id."""
    return {policy.partner_id: _band(policy) for policy in session.scalars(select(ReviewPolicy))}


def set_band(partner_id: str, band: Band | None, *, session: Session) -> None:
    """Set (or with None remove) the partner's review band."""
    policy = session.get(ReviewPolicy, partner_id)
    if band is None:
        if policy is not None:
            session.delete(policy)
        return
    if policy is None:
        policy = ReviewPolicy(partner_id=partner_id)
        session.add(policy)
    policy.band_low, policy.band_high = band.low, band.high
    policy.deadline_s, policy.default_outcome = band.deadline_s, band.default_outcome
    policy.updated_at = utcnow()


def add_item(
    submission_id: str,
    partner_id: str,
    similarity: float,
    threshold: float,
    band: Band,
    *,
    default_deadline_s: int,
    session: Session,
) -> None:
    """The queue item of a held attempt (the caller's transaction also stores the attempt)."""
    now = utcnow()
    session.add(
        ReviewItem(
            submission_id=submission_id,
            partner_id=partner_id,
            state=ReviewState.OPEN,
            similarity=similarity,
            threshold=threshold,
            band_low=band.low,
            band_high=band.high,
            default_outcome=band.default_outcome,
            created_at=now,
            due_at=now + timedelta(seconds=band.deadline_s or default_deadline_s),
        )
    )


def open_items(
    *, session: Session, partner_id: str | None = None, limit: int = 50, offset: int = 0
) -> list[tuple[ReviewItem, FlowSession, str]]:
    """Open items, oldest first, with their flow session and partner name."""
    query = (
        select(ReviewItem, FlowSession, Partner.name)
        .join(Submission, Submission.id == ReviewItem.submission_id)
        .join(FlowSession, FlowSession.id == Submission.session_id)
        .join(Partner, Partner.id == ReviewItem.partner_id)
        .where(ReviewItem.state == ReviewState.OPEN)
        .order_by(ReviewItem.created_at, ReviewItem.submission_id)
        .limit(limit)
        .offset(offset)
    )
    if partner_id:
        query = query.where(ReviewItem.partner_id == partner_id)
    return [(row[0], row[1], row[2]) for row in session.execute(query)]


def count_open(*, session: Session, partner_id: str | None = None) -> int:
    query = select(func.count()).select_from(ReviewItem).where(ReviewItem.state == ReviewState.OPEN)
    if partner_id:
        query = query.where(ReviewItem.partner_id == partner_id)
    return int(session.scalar(query) or 0)


def oldest_open(*, session: Session, partner_id: str | None = None) -> datetime | None:
    query = select(func.min(ReviewItem.created_at)).where(ReviewItem.state == ReviewState.OPEN)
    if partner_id:
        query = query.where(ReviewItem.partner_id == partner_id)
    oldest: datetime | None = session.scalar(query)
    return oldest


def close_item(submission_id: str, values: dict[str, Any], *, session: Session) -> bool:
    """Decide an open item; False when it was no longer open (someone, or its deadline, was first)."""
    result = session.execute(
        update(ReviewItem)
        .where(ReviewItem.submission_id == submission_id, ReviewItem.state == ReviewState.OPEN)
        .values(state=ReviewState.DECIDED, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def overdue(now: datetime, limit: int, *, session: Session) -> list[str]:
    return list(
        session.scalars(
            select(ReviewItem.submission_id)
            .where(ReviewItem.state == ReviewState.OPEN, ReviewItem.due_at <= now)
            .order_by(ReviewItem.due_at)
            .limit(limit)
        )
    )
