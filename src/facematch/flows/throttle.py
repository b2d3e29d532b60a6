"""Throttling of wrong pass-keys per (client-id, source address).

Keyed by both, so a third party hammering a client-id from its own address only slows itself:
the real partner, calling from its own address, keeps getting tokens.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from facematch.errors import AuthThrottledError, RateLimitedError

_WINDOW_S = 60.0


class AuthThrottle:
    """An in-process sliding window of failures (one process; a shared store can replace it)."""

    def __init__(self, limit_per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit_per_minute
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        window = self._failures.setdefault(key, deque())
        while window and window[0] <= now - _WINDOW_S:
            window.popleft()
        return window

    def check(self, client_id: str, source: str) -> None:
        """Raise AuthThrottledError while this pair is over its limit."""
        now = self._clock()
        with self._lock:
            window = self._recent((client_id, source), now)
            if len(window) >= self._limit:
                raise AuthThrottledError(max(1, int(window[0] + _WINDOW_S - now) + 1))

    def failed(self, client_id: str, source: str) -> None:
        now = self._clock()
        with self._lock:
            self._recent((client_id, source), now).append(now)
            if len(self._failures) > 100_000:  # bound memory under a spray of client-ids
                self._failures = {k: v for k, v in self._failures.items() if v and v[-1] > now - _WINDOW_S}

    def succeeded(self, client_id: str, source: str) -> None:
        with self._lock:
            self._failures.pop((client_id, source), None)


class RateLimiter:
    """A token bucket per partner: ``rate`` requests per second sustained, ``burst`` at once."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        """Spend one request of ``key``'s budget, or raise RateLimitedError."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self._burst, now))
            tokens = min(self._burst, tokens + (now - last) * self._rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                raise RateLimitedError(max(1, int((1.0 - tokens) / self._rate + 0.999)))
            self._buckets[key] = (tokens - 1.0, now)
