"""Queries of the operator console's accounts: operators, their sessions, login throttles.

Every function takes the session keyword-only; none commits (the caller's unit of work does).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facematch.storage.models import LoginThrottle, Operator, OperatorSession


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


def throttle_failures(key: str, window_start: datetime, *, session: Session) -> tuple[int, datetime | None]:
    """Failures counted for ``key`` in a window that began after ``window_start``, and when it began."""
    row = session.get(LoginThrottle, key)
    if row is None or row.window_started_at <= window_start:
        return 0, None
    return row.failures, row.window_started_at


def throttle_fail(key: str, now: datetime, window_start: datetime, *, session: Session) -> None:
    """Count one failure for ``key``: in its current window, or in a new one starting ``now``."""
    counted = session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == key, LoginThrottle.window_started_at > window_start)
        .values(failures=LoginThrottle.failures + 1)
        .execution_options(synchronize_session=False)
    )
    if counted.rowcount == 1:  # type: ignore[attr-defined]
        return
    restarted = session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == key)
        .values(window_started_at=now, failures=1)
        .execution_options(synchronize_session=False)
    )
    if restarted.rowcount == 1:  # type: ignore[attr-defined]
        return
    try:
        with session.begin_nested():
            session.add(LoginThrottle(key=key, window_started_at=now, failures=1))
    except IntegrityError:  # another process counted the first failure at the same moment
        throttle_fail(key, now, window_start, session=session)


def throttle_clear(key: str, *, session: Session) -> None:
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


def delete_throttles_before(cutoff: datetime, *, session: Session) -> int:
    result = session.execute(
        delete(LoginThrottle)
        .where(LoginThrottle.window_started_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
