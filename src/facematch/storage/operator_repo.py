"""Queries of the operator console's accounts: operators and their sessions.

Every function takes the session keyword-only; none commits (the caller's unit of work does).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from facematch.storage.models import Operator, OperatorSession


def operator_by_email(email: str, *, session: Session) -> Operator | None:
    return session.scalar(select(Operator).where(Operator.email == email))


def list_operators(*, session: Session) -> list[Operator]:
    return list(session.scalars(select(Operator).order_by(Operator.email)))


def operator_emails(operator_ids: set[str], *, session: Session) -> dict[str, str]:
    if not operator_ids:
        return {}
    rows = session.execute(select(Operator.id, Operator.email).where(Operator.id.in_(operator_ids)))
    return {row.id: row.email for row in rows}


def claim_totp_step(operator_id: str, step: int, *, session: Session) -> bool:
    """Record ``step`` as used; False when it (or a later one) was used already (a replayed code)."""
    result = session.execute(
        update(Operator)
        .where(
            Operator.id == operator_id,
            or_(Operator.totp_last_step.is_(None), Operator.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def revoke_sessions(operator_id: str, now: datetime, *, session: Session, keep: str | None = None) -> int:
    """End every live session of the operator (but ``keep``)."""
    result = session.execute(
        update(OperatorSession)
        .where(
            OperatorSession.operator_id == operator_id,
            OperatorSession.revoked_at.is_(None),
            OperatorSession.id != (keep or ""),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def touch_session(session_id: str, now: datetime, *, session: Session) -> None:
    """Record that the operator session was used at ``now`` (its idle timeout starts again)."""
    session.execute(
        update(OperatorSession)
        .where(OperatorSession.id == session_id)
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )


def delete_sessions_before(cutoff: datetime, *, session: Session) -> int:
    """Forget sessions that ended (expired or revoked) before ``cutoff``."""
    result = session.execute(
        delete(OperatorSession)
        .where(or_(OperatorSession.expires_at < cutoff, OperatorSession.revoked_at < cutoff))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
