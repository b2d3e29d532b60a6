"""Queries of the review queue. Every function takes the session keyword-only; none commits."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
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


def item_with_context(submission_id: str, *, session: Session) -> tuple[ReviewItem, FlowSession, str] | None:
    """One item (open or decided) with its flow session and partner name."""
    query = (
        select(ReviewItem, FlowSession, Partner.name)
        .join(Submission, Submission.id == ReviewItem.submission_id)
        .join(FlowSession, FlowSession.id == Submission.session_id)
        .join(Partner, Partner.id == ReviewItem.partner_id)
        .where(ReviewItem.submission_id == submission_id)
    )
    row = session.execute(query).first()
    return None if row is None else (row[0], row[1], row[2])


def _free_for(operator_id: str, now: datetime) -> ColumnElement[bool]:
    """Not claimed by anyone else right now."""
    return or_(
        ReviewItem.claimed_by.is_(None),
        ReviewItem.claimed_by == operator_id,
        ReviewItem.claimed_until.is_(None),
        ReviewItem.claimed_until <= now,
    )


def claim(submission_id: str, operator_id: str, now: datetime, until: datetime, *, session: Session) -> bool:
    """Claim (or renew) an open item for ``operator_id`` until ``until``; False when it is decided or
    someone else holds a live claim on it."""
    result = session.execute(
        update(ReviewItem)
        .where(
            ReviewItem.submission_id == submission_id,
            ReviewItem.state == ReviewState.OPEN,
            _free_for(operator_id, now),
        )
        .values(claimed_by=operator_id, claimed_until=until)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def release(submission_id: str, *, session: Session, operator_id: str | None = None) -> bool:
    """Drop the claim on an open item: only ``operator_id``'s own, or (None) anyone's."""
    conditions = [ReviewItem.submission_id == submission_id, ReviewItem.claimed_by.is_not(None)]
    if operator_id is not None:
        conditions.append(ReviewItem.claimed_by == operator_id)
    result = session.execute(
        update(ReviewItem)
        .where(and_(*conditions))
        .values(claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def next_free(operator_id: str, now: datetime, *, session: Session, skip: str | None = None) -> str | None:
    """The oldest open item nobody else is reviewing right now (other than ``skip``)."""
    query = (
        select(ReviewItem.submission_id)
        .where(ReviewItem.state == ReviewState.OPEN, _free_for(operator_id, now))
        .order_by(ReviewItem.created_at, ReviewItem.submission_id)
        .limit(1)
    )
    if skip:
        query = query.where(ReviewItem.submission_id != skip)
    found: str | None = session.scalar(query)
    return found


def count_open(*, session: Session, partner_id: str | None = None) -> int:
    query = select(func.count()).select_from(ReviewItem).where(ReviewItem.state == ReviewState.OPEN)
    if partner_id:
        query = query.where(ReviewItem.partner_id == partner_id)
    return int(session.scalar(query) or 0)


def close_item(
    submission_id: str,
    values: dict[str, Any],
    *,
    session: Session,
    operator_id: str | None = None,
    now: datetime | None = None,
) -> bool:
    """Decide an open item; False when it was no longer open (someone, or its deadline, was first)
    or, for a reviewer (``operator_id``), while someone else holds a live claim on it."""
    conditions = [ReviewItem.submission_id == submission_id, ReviewItem.state == ReviewState.OPEN]
    if operator_id is not None:
        conditions.append(_free_for(operator_id, now or utcnow()))
    result = session.execute(
        update(ReviewItem)
        .where(*conditions)
        .values(state=ReviewState.DECIDED, claimed_by=None, claimed_until=None, **values)
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
