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
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from facematch.errors import ServiceBusyError

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


class AnalysisPool:
    """At most ``slots`` request analyses at once in this process, run on ``slots`` threads of
    their own; at most ``queue`` more wait, each for at most ``wait_s``.

    Own threads, not the request's: the engine keeps per-thread state (detector buffers sized for
    the largest image a thread has seen), so analyses spread over a web server's thread pool
    (dozens of threads) would keep dozens of copies of it (measured in BENCHMARKS.md).
    """

    #: under constant load the process is never idle: trim at least this often
    TRIM_INTERVAL_S = 2.0

    def __init__(
        self, slots: int, *, queue: int, wait_s: float, trim: Callable[[], None] = release_memory
    ) -> None:
        self.slots = slots
        self._semaphore = threading.BoundedSemaphore(slots)
        self._executor = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="facematch-analysis")
        self._queue = queue
        self._wait_s = wait_s
        self._trim = trim
        self._lock = threading.Lock()
        self._busy = 0
        self._waiting = 0
        self._trimmed_at = time.monotonic()

    @property
    def busy(self) -> int:
        return self._busy

    def run(self, work: Callable[[], T], *, wait_s: float | None = None) -> T:
        """``work()`` on one of the pool's threads; ServiceBusyError when the queue is full or no
        slot frees up within the wait (``wait_s=0``: only a free slot will do)."""
        self._admit(self._wait_s if wait_s is None else wait_s)
        try:
            return self._executor.submit(work).result()
        finally:
            now = time.monotonic()
            with self._lock:
                self._busy -= 1
                trim = self._busy == 0 or now - self._trimmed_at > self.TRIM_INTERVAL_S
                if trim:
                    self._trimmed_at = now
            self._semaphore.release()
            if trim:
                self._trim()

    def _admit(self, wait: float) -> None:
        if not self._semaphore.acquire(blocking=False):
            with self._lock:
                full = wait <= 0 or self._waiting >= self._queue
                if not full:
                    self._waiting += 1
            if full:
                raise ServiceBusyError(retry_after_s=1)
            try:
                got = self._semaphore.acquire(timeout=wait)
            finally:
                with self._lock:
                    self._waiting -= 1
            if not got:
                raise ServiceBusyError(retry_after_s=1)
        with self._lock:
            self._busy += 1

    def close(self, *, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait)


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
