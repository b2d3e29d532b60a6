"""The audit trail: who did what to which submission, and why. Takes the session keyword-only."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from facematch.storage.models import AuditEvent


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
            reason=reason[:500] if reason else None,
            details=details or {},
            source=source,
        )
    )
