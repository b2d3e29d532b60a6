"""Queries of the callback outbox and its delivery log. Every function takes the session
keyword-only; none commits."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from facematch.rules.states import DeliveryState
from facematch.storage.channels import OUTBOX_CHANNEL, notify
from facematch.storage.models import DeliveryAttempt, OutboxMessage, utcnow


def add_message(
    message_id: str,
    partner_id: str,
    submission_id: str,
    event_type: str,
    body: str,
    *,
    session: Session,
    deliver: bool = True,
) -> None:
    """A message due now, announced to listening delivery workers at commit (the caller's
    transaction also holds what the message reports); with ``deliver`` False it is kept UNSENT."""
    session.add(
        OutboxMessage(
            id=message_id,
            partner_id=partner_id,
            submission_id=submission_id,
            event_type=event_type,
            body=body,
            status=DeliveryState.PENDING if deliver else DeliveryState.UNSENT,
            next_attempt_at=utcnow(),
        )
    )
    if deliver:
        notify(OUTBOX_CHANNEL, session=session)


def claim_outbox(owner: str, lease_s: float, *, session: Session) -> OutboxMessage | None:
    """Lease one due callback (pending and due, with no live lease)."""
    now = utcnow()
    candidate = session.scalar(
        select(OutboxMessage)
        .where(
            OutboxMessage.status == DeliveryState.PENDING,
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
            OutboxMessage.status == DeliveryState.PENDING,
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
