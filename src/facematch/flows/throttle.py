"""Request limits: the per-partner rate, the wrong-pass-key throttle, and the hosted flow's limits.

All counters live in one `limits <https://limits.readthedocs.io>`_ storage: ``memory://`` keeps
them in this process (the embedded default); a shared storage (``redis://``) makes every API
process count together.

Wrong pass-keys are counted per (client-id, source address) and per client-id over all addresses:
spreading guesses over many addresses does not escape the throttle. An address that authenticated
successfully for the client-id recently ("known") is never refused before its pass-key is checked,
so neither a third party sharing its NAT nor an attacker elsewhere can lock the partner out. What
stops guessing is the pass-key's 192 random bits; the throttle makes trying expensive.
"""

from __future__ import annotations

import hashlib
import math
import time

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from facematch.errors import AuthThrottledError, RateLimitedError


def _key(*parts: str) -> str:
    # identifiers are hashed: addresses and client-ids never sit in the shared store in clear,
    # and no value can contain the store's separator
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


class Counters:
    """Moving-window counters and expiring markers over one storage."""

    def __init__(self, storage_uri: str = "memory://", *, prefix: str = "fm") -> None:
        storage = storage_from_string(storage_uri)
        if not isinstance(storage, Storage):
            raise ValueError(f"not a synchronous limits storage: {storage_uri}")
        self.storage = storage
        self._windows = MovingWindowRateLimiter(self.storage)
        self._prefix = prefix

    def hit(self, item: RateLimitItem, *identifiers: str) -> int | None:
        """Count one request; None when within ``item``, else the seconds until one is allowed."""
        key = _key(*identifiers)
        if self._windows.hit(item, self._prefix, key):
            return None
        return self.retry_after(item, *identifiers)

    def over(self, item: RateLimitItem, *identifiers: str) -> int | None:
        """Like :meth:`hit` without counting."""
        key = _key(*identifiers)
        if self._windows.test(item, self._prefix, key):
            return None
        return self.retry_after(item, *identifiers)

    def retry_after(self, item: RateLimitItem, *identifiers: str) -> int:
        stats = self._windows.get_window_stats(item, self._prefix, _key(*identifiers))
        return max(1, math.ceil(stats.reset_time - time.time()))

    def clear(self, item: RateLimitItem, *identifiers: str) -> None:
        self._windows.clear(item, self._prefix, _key(*identifiers))

    def mark(self, name: str, ttl_s: float, *identifiers: str) -> None:
        """Set an expiring marker (a fresh ``ttl_s`` from now)."""
        key = f"{self._prefix}/mark/{name}/{_key(*identifiers)}"
        self.storage.clear(key)
        self.storage.incr(key, math.ceil(ttl_s))

    def marked(self, name: str, *identifiers: str) -> bool:
        return self.storage.get(f"{self._prefix}/mark/{name}/{_key(*identifiers)}") > 0


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
