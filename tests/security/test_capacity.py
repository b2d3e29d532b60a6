"""The analysis pool: a bounded number run, a bounded number wait, the rest are refused at once."""

from __future__ import annotations

import threading
import time

import pytest

from facematch.errors import PartnerBusyError, ServiceBusyError
from facematch.security.capacity import AnalysisPool, KeyedSlots, owner_limits, release_memory
from servicekit import occupy, wait_for


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


@pytest.mark.parametrize(
    ("slots", "queue", "share", "limits"),
    [
        (2, 64, 0.5, (1, 32)),
        (8, 64, 0.5, (4, 32)),
        (2, 64, 1.0, (2, 64)),
        (1, 4, 0.5, (1, 2)),
        (2, 0, 0.1, (1, 1)),
        (4, 10, 0.9, (3, 9)),
    ],
)
def test_an_owners_share_leaves_a_slot_to_the_others(
    slots: int, queue: int, share: float, limits: tuple[int, int]
) -> None:
    assert owner_limits(slots, queue, share) == limits


def _waiting_thread(pool: AnalysisPool, owner: str, done: list[str]) -> threading.Thread:
    """A thread running work of ``owner`` that notes, as it runs, whose work it was."""
    thread = threading.Thread(target=lambda: pool.run(lambda: done.append(owner), owner=owner))
    thread.start()
    return thread


def test_a_flooding_owner_is_refused_while_another_runs_at_once() -> None:
    pool = AnalysisPool(2, queue=4, wait_s=120, owner_share=0.5, trim=lambda: None)
    release = threading.Event()
    join_holder = occupy(pool, release, owner="flood")
    done: list[str] = []
    waiters = [_waiting_thread(pool, "flood", done) for _ in range(2)]  # its two waiting places
    wait_for(lambda: pool.waiting == 2)
    with pytest.raises(PartnerBusyError) as busy:  # past its share: refused at once, 429
        pool.run(lambda: None, owner="flood")
    assert busy.value.retry_after_s >= 1
    with pytest.raises(PartnerBusyError):  # wait_s=0 (a preview) likewise
        pool.run(lambda: None, owner="flood", wait_s=0)
    # the other owner takes the second slot at once, ahead of the flood's waiters
    assert pool.run(lambda: "other", owner="other", wait_s=0) == "other"
    assert pool.running("flood") == 1
    release.set()
    join_holder()
    for thread in waiters:
        thread.join(10)
    assert done == ["flood", "flood"] and pool.busy == 0 and pool.waiting == 0
    pool.close()


def test_a_freed_slot_goes_to_the_owner_running_fewest() -> None:
    pool = AnalysisPool(2, queue=8, wait_s=120, owner_share=1.0, trim=lambda: None)
    releases = [threading.Event(), threading.Event()]
    holders = [occupy(pool, release, owner="flood") for release in releases]
    done: list[str] = []
    flood_waiters = [_waiting_thread(pool, "flood", done) for _ in range(3)]
    wait_for(lambda: pool.waiting == 3)
    other = _waiting_thread(pool, "other", done)  # came last
    wait_for(lambda: pool.waiting == 4)
    releases[0].set()
    holders[0]()
    other.join(10)
    assert done[0] == "other"  # it ran first: it had no analysis running, the flood had one
    releases[1].set()
    holders[1]()
    for thread in flood_waiters:
        thread.join(10)
    assert sorted(done) == ["flood", "flood", "flood", "other"]
    pool.close()


def test_an_owner_whose_wait_ends_at_its_share_gets_429_and_a_full_pool_503() -> None:
    pool = AnalysisPool(2, queue=4, wait_s=0.2, owner_share=0.5, trim=lambda: None)
    release = threading.Event()
    holders = [occupy(pool, release, owner="flood")]
    with pytest.raises(PartnerBusyError):  # waited for its own share to free
        pool.run(lambda: None, owner="flood")
    holders.append(occupy(pool, release, owner="b"))
    with pytest.raises(ServiceBusyError):  # waited for a slot: the pool as a whole was full
        pool.run(lambda: None, owner="c")
    release.set()
    for join in holders:
        join()
    pool.close()
