"""The audit trail: who did what to which submission, and why. Takes the session keyword-only."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.orm import Session

from facematch.storage.models import AuditEvent

#: the width of the stored source address (audit events, operator sessions)
SOURCE_SIZE = 64


def fit_source(source: str | None) -> str | None:
    """A client address as stored: one longer than the column (a forged proxy header) keeps its
    start and a hash of the whole, so it fits and stays distinct."""
    if source is None or len(source) <= SOURCE_SIZE:
        return source
    digest = hashlib.sha256(source.encode("utf-8", "replace")).hexdigest()[:16]
    return f"{source[: SOURCE_SIZE - 18]}~{digest}"


def _storable(value: Any) -> Any:
    """What PostgreSQL can store: no NUL characters in text (JSON included)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {str(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


def audit(
    actor: str,
    action: str,
    submission_id: str | None,
    *,
    session: Session,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    source: str | None = None,
) -> None:
    """One audit event: who (``partner:<id>``, ``operator:<id>``, ``system:<task>``) did what, and why."""
    session.add(
        AuditEvent(
            actor=actor,
            action=action,
            submission_id=submission_id,
            reason=_storable(reason[:500]) if reason else None,
            details=_storable(details or {}),
            source=_storable(fit_source(source)),
        )
    )
