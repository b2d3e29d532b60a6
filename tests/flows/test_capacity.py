"""Analysis slots: a bounded number run, a bounded number wait, the rest are refused at once."""

from __future__ import annotations

import threading
import time

import pytest

from facematch.errors import ServiceBusyError
from facematch.flows.capacity import AnalysisSlots, KeyedSlots, release_memory


def test_slots_queue_and_refuse() -> None:
    trims: list[int] = []
    slots = AnalysisSlots(1, queue=1, wait_s=5, trim=lambda: trims.append(1))
    release = threading.Event()
    entered = threading.Event()
    waited: list[float] = []

    def holder() -> None:
        with slots.slot():
            entered.set()
            release.wait(5)

    def waiter() -> None:
        started = time.monotonic()
        with slots.slot():
            waited.append(time.monotonic() - started)

    first = threading.Thread(target=holder)
    first.start()
    assert entered.wait(5)
    second = threading.Thread(target=waiter)
    second.start()
    time.sleep(0.2)  # the waiter is queued
    started = time.monotonic()
    with pytest.raises(ServiceBusyError) as busy:  # the queue is full: refused at once
        with slots.slot():
            pass
    assert time.monotonic() - started < 0.1 and busy.value.retry_after_s >= 1
    with pytest.raises(ServiceBusyError):  # wait_s=0: only a free slot will do
        with slots.slot(wait_s=0):
            pass
    release.set()
    first.join()
    second.join()
    assert waited and waited[0] >= 0.15
    assert slots.busy == 0 and trims  # memory was handed back once idle


def test_a_waiter_gives_up_after_its_wait() -> None:
    slots = AnalysisSlots(1, queue=4, wait_s=0.2, trim=lambda: None)
    with slots.slot():
        started = time.monotonic()
        with pytest.raises(ServiceBusyError):
            with slots.slot():
                pass
        assert 0.15 < time.monotonic() - started < 1


def test_keyed_slots_cap_each_key() -> None:
    keyed = KeyedSlots(1)
    with keyed.slot("a") as first:
        with keyed.slot("a") as second, keyed.slot("b") as other:
            assert (first, second, other) == (True, False, True)
    with keyed.slot("a") as again:
        assert again


def test_release_memory_runs() -> None:
    release_memory()  # glibc's malloc_trim, or nothing where there is none
