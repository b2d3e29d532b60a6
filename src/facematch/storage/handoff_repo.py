"""Queries of Smart QR links (stored as the SHA-256 of their code). Takes the session keyword-only;
none commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from facematch.storage.models import Handoff


def redeem(digest: str, now: datetime, *, session: Session) -> tuple[str, int] | None:
    """Use the link once (a conditional UPDATE: of parallel opens exactly one wins); its (flow
    session id, token generation), or None when it is unknown, used or expired."""
    claimed = session.execute(
        update(Handoff)
        .where(Handoff.token_hash == digest, Handoff.used_at.is_(None), Handoff.expires_at > now)
        .values(used_at=now)
        .returning(Handoff.session_id, Handoff.token_generation)
    ).first()
    return None if claimed is None else (str(claimed[0]), int(claimed[1]))


def flow_of(digest: str, *, session: Session) -> str | None:
    """The flow session a link was made for, whatever its state."""
    found = session.scalar(select(Handoff.session_id).where(Handoff.token_hash == digest))
    return str(found) if found else None


def expire_unused(flow_session_id: str, now: datetime, *, session: Session) -> None:
    """The flow's links that are neither used nor expired stop working now."""
    session.execute(
        update(Handoff)
        .where(Handoff.session_id == flow_session_id, Handoff.used_at.is_(None), Handoff.expires_at > now)
        .values(expires_at=now)
    )


def latest(flow_session_id: str, *, session: Session) -> Handoff | None:
    return session.scalar(
        select(Handoff)
        .where(Handoff.session_id == flow_session_id)
        .order_by(Handoff.created_at.desc())
        .limit(1)
    )


def any_used(flow_session_id: str, *, session: Session) -> bool:
    used = session.scalar(
        select(Handoff.id).where(Handoff.session_id == flow_session_id, Handoff.used_at.is_not(None)).limit(1)
    )
    return used is not None
