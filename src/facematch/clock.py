"""The one clock: what every flow, sweep and lease asks for the time.

Production code reads :class:`SystemClock` through ``svc.clock``; tests pass a
:class:`ManualClock` and move time on themselves, so that no test sleeps for time to pass and
none depends on how fast a loaded machine runs. Imports nothing of ours.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the time (aware UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """Time that moves only when told to (tests): starts at ``start`` (default: the real time)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        """Move time on by ``seconds``; returns the new time."""
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now
