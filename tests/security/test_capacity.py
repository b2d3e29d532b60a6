"""The analysis pool: a bounded number run, a bounded number wait, the rest are refused at once."""

from __future__ import annotations

import threading
import time

import pytest

from facematch.errors import ServiceBusyError
from facematch.security.capacity import AnalysisPool, KeyedSlots, release_memory
from servicekit import occupy


def test_work_runs_on_the_pools_own_threads() -> None:
    pool = AnalysisPool(2, queue=0, wait_s=1, trim=lambda: None)
    names = {pool.run(lambda: threading.current_thread().name) for _ in range(20)}
    assert names and all(name.startswith("facematch-analysis") for name in names) and len(names) <= 2
    with pytest.raises(ZeroDivisionError):  # the work's own errors reach the caller
        pool.run(lambda: 1 // 0)
    pool.close()


def test_slots_queue_and_refuse() -> None:
    trims: list[int] = []
    pool = AnalysisPool(1, queue=1, wait_s=120, trim=lambda: trims.append(1))
    release = threading.Event()
    join_holder = occupy(pool, release)
    waited: list[float] = []

    def waiter() -> None:
        started = time.monotonic()
        pool.run(lambda: None)
        waited.append(time.monotonic() - started)

    second = threading.Thread(target=waiter)
    second.start()
    time.sleep(0.2)  # the waiter is queued
    started = time.monotonic()
    with pytest.raises(ServiceBusyError) as busy:  # the queue is full: refused at once
        pool.run(lambda: None)
    # refused at once, not after the 120 s wait (the bound only tells the two apart)
    assert time.monotonic() - started < 60 and busy.value.retry_after_s >= 1
    with pytest.raises(ServiceBusyError):  # wait_s=0: only a free slot will do
        pool.run(lambda: None, wait_s=0)
    release.set()
    join_holder()
    second.join(10)
    assert waited and waited[0] >= 0.15
    assert pool.busy == 0 and trims  # memory was handed back once idle
    pool.close()


def test_a_waiter_gives_up_after_its_wait() -> None:
    pool = AnalysisPool(1, queue=4, wait_s=0.2, trim=lambda: None)
    release = threading.Event()
    join_holder = occupy(pool, release)
    started = time.monotonic()
    with pytest.raises(ServiceBusyError):
        pool.run(lambda: None)
    assert 0.15 < time.monotonic() - started < 60  # its own short wait, not until the holder lets go
    release.set()
    join_holder()
    pool.close()


def test_keyed_slots_cap_each_key() -> None:
    keyed = KeyedSlots(1)
    with keyed.slot("a") as first, keyed.slot("a") as second, keyed.slot("b") as other:
        assert (first, second, other) == (True, False, True)
    with keyed.slot("a") as again:
        assert again


def test_release_memory_runs() -> None:
    release_memory()  # glibc's malloc_trim, or nothing where there is none
