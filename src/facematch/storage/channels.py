"""PostgreSQL LISTEN/NOTIFY channels: a committed job or callback wakes the workers at once.

Elsewhere (SQLite) nothing is sent and workers find new work by polling.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

JOBS_CHANNEL = "facematch_jobs"
OUTBOX_CHANNEL = "facematch_outbox"


def notify(channel: str, *, session: Session) -> None:
    """PostgreSQL: wake the workers listening on ``channel`` when this transaction commits (a
    NOTIFY is delivered at commit, so never for work that was rolled back). Elsewhere: nothing;
    workers poll."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": channel})
