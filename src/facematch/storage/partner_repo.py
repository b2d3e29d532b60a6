"""Queries of partners. Every function takes the session keyword-only; none commits (the caller's
unit of work does)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from facematch.storage.models import Partner


def partner_by_client_id(client_id: str, *, session: Session) -> Partner | None:
    return session.scalar(select(Partner).where(Partner.client_id == client_id))


def partner_by_id(partner_id: str, *, session: Session) -> Partner | None:
    return session.get(Partner, partner_id)


def list_partners(*, session: Session) -> list[Partner]:
    return list(session.scalars(select(Partner).order_by(Partner.created_at)))


def retry_windows(*, session: Session) -> list[tuple[str, int]]:
    """(partner id, retry window in seconds) of every partner."""
    return [(row[0], int(row[1])) for row in session.execute(select(Partner.id, Partner.retry_window_s))]


def enabled_frame_origins(*, session: Session) -> set[str]:
    """The frame origins of every enabled partner."""
    rows = session.scalars(select(Partner.frame_origins).where(Partner.disabled.is_(False)))
    return {origin for row in rows for origin in row}


def set_callback_gone(partner_id: str, at: datetime | None, *, session: Session) -> None:
    """Mark the partner's callback endpoint gone (it answered 410) at ``at``; None: usable again."""
    session.execute(
        update(Partner)
        .where(Partner.id == partner_id)
        .values(callback_gone_at=at)
        .execution_options(synchronize_session=False)
    )
