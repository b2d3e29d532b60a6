"""A partner's analyses over every process: bounded in the shared counters (memory and Redis), exact
under parallel holders, kept across a period's end, and forgotten two periods after a process died
holding some."""

from __future__ import annotations

import threading
import uuid
from contextlib import ExitStack

import pytest

from facematch.errors import PartnerBusyError
from facematch.security.shares import ClusterShares
from facematch.security.throttle import Counters
from servicekit import REDIS, require_redis, wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def counters(uri: str = "memory://") -> Counters:
    return Counters(uri, prefix=f"test-{uuid.uuid4().hex[:8]}")


def test_an_owner_holds_at_most_its_limit_and_others_are_apart() -> None:
    shares = ClusterShares(counters(), 2, period_s=60, clock=Clock())
    with shares.hold("flood"), shares.hold("flood"):
        with pytest.raises(PartnerBusyError) as busy, shares.hold("flood"):
            pass
        assert busy.value.retry_after_s >= 1
        with shares.hold("other"):
            assert shares.in_flight("other") == 1
        assert shares.in_flight("flood") == 2
    assert shares.in_flight("flood") == 0
    with shares.hold("flood"):  # handed back: room again
        pass


def test_a_hold_is_counted_past_its_periods_end_and_given_back_to_its_own_period() -> None:
    clock = Clock()
    shares = ClusterShares(counters(), 1, period_s=60, clock=clock)
    with shares.hold("p"):
        clock.now += 60  # the next period: the earlier one still counts
        assert shares.in_flight("p") == 1
        with pytest.raises(PartnerBusyError), shares.hold("p"):
            pass
    assert shares.in_flight("p") == 0
    with shares.hold("p"):
        pass


def test_what_a_dead_process_held_is_forgotten_two_periods_later() -> None:
    clock = Clock()
    shared = counters()
    shares = ClusterShares(shared, 1, period_s=60, clock=clock)
    died = shares.hold("p")
    died.__enter__()  # never left: its process died
    with pytest.raises(PartnerBusyError), shares.hold("p"):
        pass
    clock.now += 120
    assert shares.in_flight("p") == 0
    with shares.hold("p"):
        pass


@pytest.mark.parametrize("uri", ["memory://", REDIS])
def test_parallel_holders_never_pass_the_limit(uri: str) -> None:
    if uri == REDIS:
        require_redis()
    shares = ClusterShares(counters(uri), 3)
    release, lock = threading.Event(), threading.Lock()
    held: list[int] = []
    refused: list[int] = []
    inside = [0]

    def one() -> None:
        with ExitStack() as stack:
            try:
                stack.enter_context(shares.hold("flood"))
            except PartnerBusyError:
                refused.append(1)
                return
            with lock:
                inside[0] += 1
                held.append(inside[0])
            release.wait(10)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=one) for _ in range(24)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(held) + len(refused) == 24)  # each was let in or refused while none left
    release.set()
    for thread in threads:
        thread.join(10)
    assert len(held) == 3 and max(held) == 3  # exactly the limit, never over
    assert shares.in_flight("flood") == 0
