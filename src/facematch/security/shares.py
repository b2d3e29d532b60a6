"""A partner's share of image analyses over every API process that shares the limits storage.

Each process keeps a partner to its share of that process's slots
(:class:`~facematch.security.capacity.AnalysisPool`); :class:`ClusterShares` also bounds the
partner's analyses (running and waiting) over all processes together, counted in the shared
counters (:class:`~facematch.security.throttle.Counters`: Redis when configured), so spreading a
flood over processes buys no more than ``limit`` at once.

An analysis is counted in the counter of the period it began in (``period_s``, much longer than
any analysis may run) and taken off that same counter when it ends; what is in flight is the sum
of the current and the previous period's counters. Counters expire two periods after they were
made, so what a process that died mid-analysis had counted is forgotten within two periods, never
held for good. Admission is an atomic increment followed by a check (given back when over), so
parallel requests never pass the bound; at worst a few of them are refused together.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from facematch.errors import PartnerBusyError
from facematch.security.throttle import Counters


class ClusterShares:
    """At most ``limit`` analyses of one owner at once over all processes (see the module)."""

    def __init__(
        self,
        counters: Counters,
        limit: int,
        *,
        period_s: int = 120,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._counters = counters
        self.limit = limit
        self._period_s = period_s
        self._clock = clock

    def in_flight(self, owner: str) -> int:
        period = self._period()
        return sum(max(0, self._counters.value("share", owner, str(p))) for p in (period - 1, period))

    @contextmanager
    def hold(self, owner: str) -> Iterator[None]:
        """Count one analysis of ``owner`` while the block runs, or raise PartnerBusyError."""
        counters, ttl = self._counters, 2 * self._period_s + 1
        period = str(self._period())
        mine = counters.add("share", ttl, 1, owner, period)
        earlier = max(0, counters.value("share", owner, str(int(period) - 1)))
        if max(0, mine) + earlier > self.limit:
            counters.add("share", ttl, -1, owner, period)
            raise PartnerBusyError(1)
        try:
            yield
        finally:
            counters.add("share", ttl, -1, owner, period)

    def _period(self) -> int:
        return math.floor(self._clock() / self._period_s)
