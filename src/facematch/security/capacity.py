"""How much image work a process takes on at once for requests.

Decoding and analysing an image is the one thing a few kilobytes can make expensive, so requests
run it in :class:`AnalysisPool` (presigned uploads, the synchronous compare, web captures and
previews): at most ``slots`` run at once, at most ``queue`` more wait, each for at
most ``wait_s``. A request past the queue is answered at once (503 with Retry-After), one that
waited too long likewise; so a burst is served in turn, and a flood costs neither CPU nor memory
beyond the slots. Job workers are bounded by their own number and take no slot.
:class:`KeyedSlots` caps work per key (one web session).

Memory: glibc's allocator raises its mmap threshold after freeing a large block, so later image
buffers come from the heap, whose freed pages a long-running process keeps: it grows to the
high-water mark of its largest decodes and stays there. So processes fix the threshold at start
(:func:`tune_allocator`: every image-sized buffer is mapped and unmapped) and hand the heap's free
pages back after analyses (``malloc_trim``); both measured in BENCHMARKS.md.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TypeVar

from facematch.errors import FacematchError, PartnerBusyError, ServiceBusyError
from facematch.security.shares import ClusterShares

log = logging.getLogger(__name__)

T = TypeVar("T")


#: glibc's mallopt parameter, and the size from which buffers are mapped on their own
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def tune_allocator() -> bool:
    """Fix glibc's mmap threshold (see the module docstring) for this process; False where libc
    is not glibc. Call once at process start."""
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def _load_trim() -> Callable[[], None]:
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is None:  # not glibc: nothing to do
        return lambda: None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int

    def release() -> None:
        trim(0)

    return release


release_memory = _load_trim()
"""Return the heap's free pages to the operating system (a no-op where libc has no malloc_trim)."""


@dataclass(slots=True)
class _Waiter:
    owner: str | None
    seq: int


class AnalysisPool:
    """At most ``slots`` request analyses at once in this process, run on ``slots`` threads of
    their own; at most ``queue`` more wait, each for at most ``wait_s``.

    Own threads, not the request's: the engine keeps per-thread state (detector buffers sized for
    the largest image a thread has seen), so analyses spread over a web server's thread pool
    (dozens of threads) would keep dozens of copies of it (measured in BENCHMARKS.md).

    Fair between owners (partners): one owner holds at most ``owner_share`` of the slots and of the
    waiting places (at least one of each, and never every slot while there are two or more), and
    is answered PartnerBusyError (429) past them, at once or when its wait ends; a freed slot goes
    to the waiting owner that runs the fewest analyses (first come first within an owner). So one
    owner's flood leaves the other owners a slot without queueing behind it. Work of no owner
    (``owner=None``) is bounded by the pool alone. ``cluster``, when
    given, also bounds an owner's analyses over every process sharing its counters.
    """

    #: under constant load the process is never idle: trim at least this often
    TRIM_INTERVAL_S = 2.0

    def __init__(
        self,
        slots: int,
        *,
        queue: int,
        wait_s: float,
        owner_share: float = 1.0,
        cluster: ClusterShares | None = None,
        trim: Callable[[], None] = release_memory,
    ) -> None:
        self.slots = slots
        self._executor = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="facematch-analysis")
        self._queue = queue
        self._wait_s = wait_s
        self.owner_slots, self.owner_queue = owner_limits(slots, queue, owner_share)
        self._shared = owner_share < 1
        self._cluster = cluster
        self._trim = trim
        self._changed = threading.Condition()
        self._busy = 0
        self._running: Counter[str | None] = Counter()
        self._waiting: list[_Waiter] = []
        self._seq = itertools.count()
        self._trimmed_at = time.monotonic()

    @property
    def busy(self) -> int:
        return self._busy

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def full(self, owner: str) -> bool:
        """Whether work of ``owner`` would be refused now as past its share (its slots and its
        waiting places in this process, or its bound over all processes, are taken)."""
        with self._changed:
            waiting = sum(1 for w in self._waiting if w.owner == owner)
            if self._at_share(owner) and waiting >= self.owner_queue:
                return True
        return self._cluster is not None and self._cluster.in_flight(owner) >= self._cluster.limit

    def running(self, owner: str | None) -> int:
        """Analyses of ``owner`` running now in this process."""
        return self._running[owner]

    def run(self, work: Callable[[], T], *, wait_s: float | None = None, owner: str | None = None) -> T:
        """``work()`` on one of the pool's threads, counted to ``owner``. PartnerBusyError when the
        owner is at its share (running and waiting) or its wait ends while it is; ServiceBusyError
        when the pool's queue is full or no slot frees up within the wait (``wait_s=0``: only a free
        slot will do)."""
        return self.submit(work, wait_s=wait_s, owner=owner).result()

    def submit(
        self, work: Callable[[], T], *, wait_s: float | None = None, owner: str | None = None
    ) -> Future[T]:
        """Like :meth:`run`, but once a slot is had, answer the future of ``work()`` at once (a
        caller with a deadline stops waiting for it; the slot stays taken until the work ends)."""
        wait = self._wait_s if wait_s is None else wait_s
        held = ExitStack()
        if self._cluster and owner:
            held.enter_context(self._cluster.hold(owner))
        try:
            self._admit(owner, wait)
        except BaseException:
            held.close()
            raise
        held.callback(self._leave, owner)
        try:
            future = self._executor.submit(work)
        except BaseException:
            held.close()
            raise
        future.add_done_callback(lambda _: held.close())
        return future

    def _admit(self, owner: str | None, wait: float) -> None:
        deadline = time.monotonic() + wait
        with self._changed:
            me = _Waiter(owner, next(self._seq))
            if not self._may_start(me, waiting=False):
                self._refuse_or_queue(me, wait)
                try:
                    while not self._may_start(me, waiting=True):
                        left = deadline - time.monotonic()
                        if left <= 0:
                            raise self._refusal(owner)
                        self._changed.wait(left)
                finally:
                    self._waiting.remove(me)
                    self._changed.notify_all()
            self._busy += 1
            self._running[owner] += 1

    def _may_start(self, me: _Waiter, *, waiting: bool) -> bool:
        """Whether ``me`` takes a slot now: one is free, its owner is under its share, and no
        waiter that could start comes first (fewest running, then first come)."""
        if self._busy >= self.slots or self._at_share(me.owner):
            return False
        ready = [w for w in self._waiting if not self._at_share(w.owner)]
        if not waiting:
            return not ready
        first = min(ready, key=lambda w: (self._running[w.owner], w.seq))
        return first is me

    def _refuse_or_queue(self, me: _Waiter, wait: float) -> None:
        waiting_of_owner = sum(1 for w in self._waiting if w.owner == me.owner)
        if wait <= 0 or (self._shared and me.owner is not None and waiting_of_owner >= self.owner_queue):
            raise self._refusal(me.owner)
        if len(self._waiting) >= self._queue:
            raise ServiceBusyError(retry_after_s=1)
        self._waiting.append(me)

    def _refusal(self, owner: str | None) -> FacematchError:
        """The owner's own share is what stops it (429), or the pool as a whole is full (503)."""
        if self._at_share(owner):
            return PartnerBusyError(1)
        return ServiceBusyError(retry_after_s=1)

    def _at_share(self, owner: str | None) -> bool:
        """Whether ``owner`` runs its whole share (work of no owner has none, nor has any owner
        when the share is the whole pool)."""
        return self._shared and owner is not None and self._running[owner] >= self.owner_slots

    def _leave(self, owner: str | None) -> None:
        now = time.monotonic()
        with self._changed:
            self._busy -= 1
            self._running[owner] -= 1
            if not self._running[owner]:
                del self._running[owner]
            trim = self._busy == 0 or now - self._trimmed_at > self.TRIM_INTERVAL_S
            if trim:
                self._trimmed_at = now
            self._changed.notify_all()
        if trim:
            self._trim()

    def close(self, *, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait)


def owner_limits(slots: int, queue: int, share: float) -> tuple[int, int]:
    """The slots and waiting places one owner may hold: ``share`` of each, at least one of each,
    and one slot fewer than all while there are two or more (``share`` 1: no per-owner bound)."""
    if share >= 1:
        return slots, queue
    owner_slots = max(1, math.floor(slots * share))
    if slots > 1:
        owner_slots = min(owner_slots, slots - 1)
    return owner_slots, max(1, math.floor(queue * share))


class KeyedSlots:
    """At most ``limit`` holders per key at once (keys are forgotten when free)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, key: str) -> Iterator[bool]:
        """Yields whether the slot was had (False: the key is at its limit; nothing is held)."""
        with self._lock:
            held = self._held.get(key, 0)
            got = held < self._limit
            if got:
                self._held[key] = held + 1
        try:
            yield got
        finally:
            if got:
                with self._lock:
                    left = self._held[key] - 1
                    if left:
                        self._held[key] = left
                    else:
                        del self._held[key]
