"""The HTTP server around the app: uvicorn with a guard against slow and greedy clients.

uvicorn (h11) waits for a request's head and body as long as the client likes, and accepts every
connection until the process runs out of file descriptors, at which point asyncio logs one line per
refused ``accept()`` (hundreds of thousands a minute). So every connection goes through
:class:`GuardedH11Protocol`:

* a connection must deliver its request line and headers within ``server.header_timeout_s`` of
  opening (or of its first byte after a keep-alive pause), its body with no pause longer than
  ``server.body_idle_timeout_s`` and within ``server.body_timeout_s`` in all; else it is closed;
* at most ``server.max_connections_per_address`` open connections per client address (not applied
  behind a proxy, ``server.proxy_headers``, where every connection comes from the proxy) and
  ``server.max_connections`` in all, kept below the file-descriptor limit (raised to its hard limit
  at start); connections past a cap are closed at once;
* asyncio's accept-error lines are rate-limited.

docs/deploy.md gives the matching settings for a reverse proxy in front.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from facematch.config import Settings

log = logging.getLogger(__name__)

#: file descriptors kept free for everything but client connections (database pool, files, ...)
FD_RESERVE = 128
#: the largest listen backlog; asyncio also accepts up to this many connections in one loop tick,
#: before the guard sees any of them, so the descriptors they take are kept free as well
MAX_BACKLOG = 2048
_SWEEP_S = 0.5


@dataclass(frozen=True, slots=True)
class GuardLimits:
    header_timeout_s: float
    body_idle_timeout_s: float
    body_timeout_s: float
    max_connections: int
    max_per_address: int  # 0: no cap


class ConnectionGuard:
    """Counts open connections and closes those that stall (one per server, on its event loop)."""

    def __init__(self, limits: GuardLimits) -> None:
        self.limits = limits
        self.open: set[GuardedH11Protocol] = set()
        self.per_address: Counter[str] = Counter()
        self.refused = 0
        self.timed_out = 0
        self._sweeping = False

    def admit(self, connection: GuardedH11Protocol) -> bool:
        address = connection.address
        limits = self.limits
        if len(self.open) >= limits.max_connections or (
            limits.max_per_address and self.per_address[address] >= limits.max_per_address
        ):
            self.refused += 1
            return False
        self.open.add(connection)
        self.per_address[address] += 1
        if not self._sweeping:
            self._sweeping = True
            connection.loop.call_later(_SWEEP_S, self._sweep, connection.loop)
        return True

    def release(self, connection: GuardedH11Protocol) -> None:
        if connection in self.open:
            self.open.discard(connection)
            self.per_address[connection.address] -= 1
            if self.per_address[connection.address] <= 0:
                del self.per_address[connection.address]

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = time.monotonic()
        for connection in list(self.open):
            if connection.overdue(now, self.limits):
                self.timed_out += 1
                connection.close_stalled()
        if self.open:
            loop.call_later(_SWEEP_S, self._sweep, loop)
        else:
            self._sweeping = False


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the guard's caps and timeouts (see the module docstring)."""

    guard: ClassVar[ConnectionGuard]

    address: str = "?"
    _admitted = False
    _head_since: float | None = None
    _body_since: float | None = None
    _body_last: float = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.address = self.client[0] if self.client else "?"
        if not self.guard.admit(self):
            transport.abort()
            return
        self._admitted = True
        self._head_since = time.monotonic()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._admitted:
            self.guard.release(self)
            self._admitted = False
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if self.conn.their_state is h11.IDLE and self._head_since is None:
            self._head_since = now  # the first byte of a request after a keep-alive pause
        super().data_received(data)
        state = self.conn.their_state
        if state is not h11.IDLE:
            self._head_since = None
        if state is h11.SEND_BODY:
            if self._body_since is None:
                self._body_since = now
            self._body_last = now
        else:
            self._body_since = None

    def overdue(self, now: float, limits: GuardLimits) -> bool:
        if self.transport is None or self.transport.is_closing():
            return False
        if self._head_since is not None and self.conn.their_state is h11.IDLE:
            return now - self._head_since > limits.header_timeout_s
        if self._body_since is not None and self.conn.their_state is h11.SEND_BODY:
            if self.flow is not None and self.flow.read_paused:
                self._body_last = now  # we stopped reading (the app is behind): not the client's pause
                return False
            return (
                now - self._body_last > limits.body_idle_timeout_s
                or now - self._body_since > limits.body_timeout_s
            )
        return False

    def close_stalled(self) -> None:
        if self.conn.their_state is h11.IDLE and self.conn.our_state is h11.IDLE:
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
            )
        self.transport.abort()


def raise_fd_limit() -> int:
    """Raise this process's soft file-descriptor limit to its hard limit; returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            log.warning("could not raise the file-descriptor limit from %d", soft)
    return int(soft if soft != resource.RLIM_INFINITY else 1 << 20)


def accept_backlog(fd_limit: int) -> int:
    """The listen backlog, which is also the most connections asyncio accepts in one burst."""
    return max(16, min(MAX_BACKLOG, fd_limit // 8))


def guard_limits(settings: Settings, fd_limit: int) -> GuardLimits:
    server = settings.server
    cap = max(16, min(server.max_connections, fd_limit - FD_RESERVE - accept_backlog(fd_limit)))
    if cap < server.max_connections:
        log.warning("max_connections lowered to %d to stay below the file-descriptor limit %d", cap, fd_limit)
    return GuardLimits(
        header_timeout_s=server.header_timeout_s,
        body_idle_timeout_s=server.body_idle_timeout_s,
        body_timeout_s=server.body_timeout_s,
        max_connections=cap,
        max_per_address=0 if server.proxy_headers else server.max_connections_per_address,
    )


def guarded_protocol(limits: GuardLimits) -> type[GuardedH11Protocol]:
    """A protocol class bound to one guard (uvicorn builds one protocol object per connection)."""
    return type("Guarded", (GuardedH11Protocol,), {"guard": ConnectionGuard(limits)})


class RepeatFilter(logging.Filter):
    """Lets a message through at most once per ``interval_s``; the next one that passes says how
    many were held back."""

    def __init__(self, interval_s: float = 10.0) -> None:
        super().__init__()
        self._interval = interval_s
        self._last: dict[str, float] = {}
        self._held: Counter[str] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        key = str(record.msg)
        now = time.monotonic()
        if now - self._last.get(key, -self._interval) < self._interval:
            self._held[key] += 1
            return False
        self._last[key] = now
        held = self._held.pop(key, 0)
        if held:
            record.msg = f"{record.msg} ({held} more like this in the last {self._interval:.0f} s)"
        return True


_accept_filter = RepeatFilter()


def server_config(
    app: Any, settings: Settings, *, host: str, port: int, fd_limit: int | None = None
) -> uvicorn.Config:
    """The uvicorn configuration every facematch server runs with."""
    asyncio_log = logging.getLogger("asyncio")
    if _accept_filter not in asyncio_log.filters:
        asyncio_log.addFilter(_accept_filter)
    fd_limit = raise_fd_limit() if fd_limit is None else fd_limit
    limits = guard_limits(settings, fd_limit)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(limits),
        timeout_keep_alive=int(max(1, settings.server.keep_alive_s)),
        log_config=None,
        access_log=False,
        proxy_headers=settings.server.proxy_headers,
        backlog=min(accept_backlog(fd_limit), limits.max_connections),
        lifespan="on",
    )
