"""PostgreSQL LISTEN/NOTIFY: an idle worker on any machine starts new work at once.

A confirm (and a callback written with a result) sends ``NOTIFY`` in its own transaction, so it is
delivered at commit. One :class:`Listener` thread per process holds a dedicated connection, listens
on the channels, and wakes the matching loop. Polling stays: it is the fallback when the connection
is down (the listener reconnects with backoff) and the only mechanism on SQLite, where nothing is
sent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

JOBS_CHANNEL = "facematch_jobs"
OUTBOX_CHANNEL = "facematch_outbox"


def notify(channel: str, *, session: Session) -> None:
    """PostgreSQL: wake the workers listening on ``channel`` when this transaction commits (a
    NOTIFY is delivered at commit, so never for work that was rolled back). Elsewhere: nothing;
    workers poll."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": channel})


def conninfo(database_url: str) -> str | None:
    """The psycopg connection string of a PostgreSQL SQLAlchemy URL (None for other databases)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """Calls ``wakers[channel]()`` for every notification on ``channel``."""

    def __init__(self, dsn: str, wakers: Mapping[str, Callable[[], None]]) -> None:
        self._dsn = dsn
        self._wakers = dict(wakers)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="facematch-listener", daemon=True)
        self.connected = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True, connect_timeout=5) as connection:
                    for channel in self._wakers:
                        connection.execute(f'LISTEN "{channel}"')
                    self.connected.set()
                    backoff = 0.5
                    for waker in self._wakers.values():  # anything sent while we were away
                        waker()
                    while not self._stop.is_set():
                        for note in connection.notifies(timeout=1.0):
                            wake = self._wakers.get(note.channel)
                            if wake is not None:
                                wake()
            except psycopg.Error:
                self.connected.clear()
                log.warning("job notifications lost their connection; polling until it is back")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
