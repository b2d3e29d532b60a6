"""Request limits: the per-partner rate, the wrong-pass-key throttle, and the hosted flow's limits.

All counters live in one `limits <https://limits.readthedocs.io>`_ storage: ``memory://`` keeps
them in this process (the embedded default); a shared storage (``redis://``) makes every API
process count together.

When the shared storage fails (Redis down, slow: half a second at most per call), the process
counts in its own memory until the storage answers again (retried every few seconds) and says so
in its log: every limit still holds per process, so a Redis outage neither locks a partner out
nor opens pass-keys to unthrottled guessing; across N processes a limit is at most N times looser
for the duration.

Wrong pass-keys are counted per (client-id, source address) and per client-id over all addresses:
spreading guesses over many addresses does not escape the throttle. An address that authenticated
successfully for the client-id recently ("known") is never refused before its pass-key is checked,
so neither a third party sharing its NAT nor an attacker elsewhere can lock the partner out. What
stops guessing is the pass-key's 192 random bits; the throttle makes trying expensive.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from facematch.errors import AuthThrottledError, RateLimitedError

log = logging.getLogger(__name__)

T = TypeVar("T")


def _key(*parts: str) -> str:
    # identifiers are hashed: addresses and client-ids never sit in the shared store in clear,
    # and no value can contain the store's separator
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


#: how long a process counts in its own memory after the shared storage failed, before it tries again
RETRY_SHARED_S = 5.0
_TIMEOUTS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}


def _storage(uri: str) -> Storage:
    options = _TIMEOUTS if uri.startswith(("redis://", "rediss://", "redis+")) else {}
    storage = storage_from_string(uri, wrap_exceptions=True, **options)
    if not isinstance(storage, Storage):
        raise ValueError(f"not a synchronous limits storage: {uri}")
    return storage


class Counters:
    """Moving-window counters and expiring markers over one storage (see the module docstring for
    what happens when a shared one fails)."""

    def __init__(self, storage_uri: str = "memory://", *, prefix: str = "fm") -> None:
        self._shared = _storage(storage_uri)
        self._local = _storage("memory://") if not storage_uri.startswith("memory://") else self._shared
        self._limiters = {
            id(self._shared): MovingWindowRateLimiter(self._shared),
            id(self._local): MovingWindowRateLimiter(self._local),
        }
        self._prefix = prefix
        self._shared_down_until = 0.0
        self._lock = threading.Lock()

    @property
    def shared(self) -> bool:
        """Whether the counters are the shared ones right now."""
        return time.monotonic() >= self._shared_down_until

    def _call(self, operation: Callable[[Storage, MovingWindowRateLimiter], T]) -> T:
        if self._local is not self._shared and self.shared:
            try:
                return operation(self._shared, self._limiters[id(self._shared)])
            except StorageError:
                with self._lock:
                    if self.shared:
                        log.warning("shared rate-limit storage failed; counting in this process for now")
                    self._shared_down_until = time.monotonic() + RETRY_SHARED_S
        return operation(self._local, self._limiters[id(self._local)])

    def hit(self, item: RateLimitItem, *identifiers: str) -> int | None:
        """Count one request; None when within ``item``, else the seconds until one is allowed."""
        key = _key(*identifiers)
        return self._call(
            lambda _, windows: (
                None if windows.hit(item, self._prefix, key) else _retry(windows, item, self._prefix, key)
            )
        )

    def over(self, item: RateLimitItem, *identifiers: str) -> int | None:
        """Like :meth:`hit` without counting."""
        key = _key(*identifiers)
        return self._call(
            lambda _, windows: (
                None if windows.test(item, self._prefix, key) else _retry(windows, item, self._prefix, key)
            )
        )

    def clear(self, item: RateLimitItem, *identifiers: str) -> None:
        key = _key(*identifiers)
        self._call(lambda _, windows: windows.clear(item, self._prefix, key))

    def mark(self, name: str, ttl_s: float, *identifiers: str) -> None:
        """Set an expiring marker (a fresh ``ttl_s`` from now)."""
        key = f"{self._prefix}/mark/{name}/{_key(*identifiers)}"

        def set_marker(storage: Storage, _: MovingWindowRateLimiter) -> None:
            storage.clear(key)
            storage.incr(key, math.ceil(ttl_s))

        self._call(set_marker)

    def marked(self, name: str, *identifiers: str) -> bool:
        key = f"{self._prefix}/mark/{name}/{_key(*identifiers)}"
        return self._call(lambda storage, _: storage.get(key) > 0)

    def add(self, name: str, ttl_s: float, amount: int, *identifiers: str) -> int:
        """Add ``amount`` (negative: take it back) to a plain counter, atomically, and return its
        new value; a counter created by this call lives ``ttl_s`` seconds."""
        key = f"{self._prefix}/count/{name}/{_key(*identifiers)}"
        return self._call(lambda storage, _: int(storage.incr(key, math.ceil(ttl_s), amount=amount)))

    def value(self, name: str, *identifiers: str) -> int:
        """A plain counter's value (0 when it does not exist or has expired)."""
        key = f"{self._prefix}/count/{name}/{_key(*identifiers)}"
        return self._call(lambda storage, _: int(storage.get(key)))

    def expires_in(self, name: str, *identifiers: str) -> float:
        """Seconds until a plain counter expires (0 when it does not exist)."""
        key = f"{self._prefix}/count/{name}/{_key(*identifiers)}"
        return self._call(
            lambda storage, _: max(0.0, storage.get_expiry(key) - time.time()) if storage.get(key) else 0.0
        )

    def forget(self, name: str, *identifiers: str) -> None:
        """Delete a plain counter."""
        key = f"{self._prefix}/count/{name}/{_key(*identifiers)}"
        self._call(lambda storage, _: storage.clear(key))


def _retry(windows: MovingWindowRateLimiter, item: RateLimitItem, *identifiers: str) -> int:
    stats = windows.get_window_stats(item, *identifiers)
    return max(1, math.ceil(stats.reset_time - time.time()))


class AuthThrottle:
    """The wrong-pass-key throttle (see the module docstring)."""

    def __init__(
        self,
        counters: Counters,
        *,
        per_source_per_minute: int,
        per_client_per_minute: int,
        known_source_ttl_s: float = 7 * 86_400,
    ) -> None:
        self._counters = counters
        self._per_source = RateLimitItemPerMinute(per_source_per_minute)
        self._per_client = RateLimitItemPerMinute(per_client_per_minute)
        self._known_ttl = known_source_ttl_s

    def check(self, client_id: str, source: str) -> None:
        """Raise AuthThrottledError when an unknown source may not try now."""
        if self._counters.marked("known", client_id, source):
            return
        retry = self._counters.over(self._per_source, "auth-source", client_id, source)
        if retry is None:
            retry = self._counters.over(self._per_client, "auth-client", client_id)
        if retry is not None:
            raise AuthThrottledError(retry)

    def failed(self, client_id: str, source: str) -> None:
        self._counters.hit(self._per_source, "auth-source", client_id, source)
        self._counters.hit(self._per_client, "auth-client", client_id)

    def succeeded(self, client_id: str, source: str) -> None:
        self._counters.mark("known", self._known_ttl, client_id, source)
        self._counters.clear(self._per_source, "auth-source", client_id, source)


def burst_window(rate_per_s: float, burst: int) -> RateLimitItem:
    """``burst`` requests per ``burst / rate`` seconds: a burst at once, ``rate`` sustained."""
    return RateLimitItemPerSecond(burst, max(1, math.ceil(burst / rate_per_s)))


class RateLimiter:
    """Requests per partner: ``burst`` at once and ``rate`` per second sustained (a moving window)."""

    def __init__(self, counters: Counters, rate: float, burst: int, *, name: str = "partner") -> None:
        self._counters = counters
        self._item = burst_window(rate, burst)
        self._name = name

    def take(self, key: str) -> None:
        """Spend one request of ``key``'s budget, or raise RateLimitedError."""
        retry = self._counters.hit(self._item, self._name, key)
        if retry is not None:
            raise RateLimitedError(retry)
