"""The login guard on its own (memory counters, an injected clock): free failures then growing,
capped delays per account whatever the address, a known browser's own count, a pending login's
codes, the per-address count and in-flight cap, exact counts under parallel tries, and the unlock."""

from __future__ import annotations

import threading
import uuid

import pytest

from facematch.errors import LoginFailedError, LoginThrottledError
from facematch.security.login_guard import GuardPolicy, LoginGuard
from facematch.security.throttle import Counters

POLICY = GuardPolicy(
    per_source=30,
    window_s=900,
    free_failures=5,
    base_delay_s=30.0,
    max_delay_s=900.0,
    memory_s=86_400,
    per_pending=5,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def guard(policy: GuardPolicy = POLICY) -> tuple[LoginGuard, Clock]:
    clock = Clock()
    counters = Counters("memory://", prefix=f"test-{uuid.uuid4().hex[:8]}")
    return LoginGuard(counters, policy, clock=clock), clock


def fail(guard: LoginGuard, account: str, source: str, **kw: str) -> None:
    with guard.attempt(account, source, **kw) as attempt:
        attempt.failed()


def admitted(guard: LoginGuard, account: str, source: str, **kw: str) -> None:
    """A try that is let through (and then ends without an answer)."""
    with guard.attempt(account, source, **kw):
        pass


def test_delays_grow_per_account_whatever_the_address_and_are_capped() -> None:
    login, clock = guard()
    for n in range(4):  # free failures, each from another address
        fail(login, "ops@bank.example", f"10.0.0.{n}")
    assert login.state("ops@bank.example").blocked_for_s == 0
    fail(login, "ops@bank.example", "10.0.0.4")  # the fifth: the first delay starts
    waits = []
    for n in range(10):
        with pytest.raises(LoginThrottledError) as refused:
            admitted(login, "ops@bank.example", f"10.0.1.{n}")
        waits.append(refused.value.retry_after_s)
        clock.now += refused.value.retry_after_s
        fail(login, "ops@bank.example", f"10.0.1.{n}")
    assert waits[:5] == [30, 60, 120, 240, 480] and set(waits[5:]) == {900}  # doubling, then capped
    assert login.state("ops@bank.example").failures == 15
    # another account is not held
    with login.attempt("other@bank.example", "10.0.2.1") as attempt:
        attempt.passed()


def test_a_known_browser_keeps_its_own_count_and_an_unlock_forgets_the_account() -> None:
    login, _ = guard()
    for n in range(POLICY.free_failures):
        fail(login, "ops@bank.example", f"10.9.0.{n}")
    with pytest.raises(LoginThrottledError), login.attempt("ops@bank.example", "10.9.1.1"):
        pass
    with login.attempt("ops@bank.example", "10.9.1.1", device="the-operators-laptop") as attempt:
        attempt.passed()  # the operator's own browser is not held by someone else's guessing
    for _ in range(POLICY.free_failures):  # but it has a count of its own
        fail(login, "ops@bank.example", "10.9.1.1", device="a-stolen-cookie")
    with pytest.raises(LoginThrottledError):
        admitted(login, "ops@bank.example", "10.9.1.1", device="a-stolen-cookie")
    login.unlock("ops@bank.example")
    assert login.state("ops@bank.example").failures == 0
    with login.attempt("ops@bank.example", "10.9.1.2") as attempt:
        attempt.passed()


def test_a_pending_login_takes_a_few_codes_then_ends() -> None:
    login, clock = guard()
    spent = []
    for _ in range(POLICY.per_pending):
        with login.attempt("ops@bank.example", "10.1.0.1", pending="pending-1") as attempt:
            attempt.failed()
        spent.append(attempt.pending_spent)
        clock.now += 10_000  # past any account delay: only the pending login's count matters here
    assert spent == [False] * (POLICY.per_pending - 1) + [True]
    with pytest.raises(LoginFailedError, match="log in again"):
        admitted(login, "ops@bank.example", "10.1.0.1", pending="pending-1")


def test_an_address_gets_its_failures_per_window_and_one_try_at_a_time() -> None:
    login, _ = guard(GuardPolicy(3, 900, 100, 30.0, 900.0, 86_400, 5))
    with login.attempt("a@bank.example", "10.2.0.1") as attempt:
        attempt.passed()  # a right answer is handed back
        with pytest.raises(LoginThrottledError) as busy, login.attempt("b@bank.example", "10.2.0.1"):
            pass  # the same address, while its first try runs
        assert busy.value.retry_after_s == 1
    for n in range(3):
        fail(login, f"user{n}@bank.example", "10.2.0.1")
    with pytest.raises(LoginThrottledError) as refused, login.attempt("someone@bank.example", "10.2.0.1"):
        pass
    assert 1 <= refused.value.retry_after_s <= 900
    with login.attempt("someone@bank.example", "10.2.0.2") as attempt:  # other addresses are not held
        attempt.passed()


def test_parallel_tries_cannot_pass_the_counts() -> None:
    login, _ = guard(GuardPolicy(1000, 900, 3, 30.0, 900.0, 86_400, 5, in_flight_per_source=1000))
    checked: list[int] = []
    refused: list[int] = []
    barrier = threading.Barrier(24)

    def guess(n: int) -> None:
        barrier.wait()
        for _ in range(5):
            try:
                with login.attempt("ops@bank.example", f"10.3.{n}.1") as attempt:
                    checked.append(n)
                    attempt.failed()
            except LoginThrottledError:
                refused.append(n)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # 3 free failures, then a delay: the clock does not move, so no more than that
    assert len(checked) == 3 and len(refused) == 24 * 5 - 3
    assert login.state("ops@bank.example").failures == 3


def test_a_try_that_ends_in_an_error_counts_nothing() -> None:
    login, _ = guard(GuardPolicy(1, 900, 1, 30.0, 900.0, 86_400, 5))
    for _ in range(3):
        with pytest.raises(RuntimeError), login.attempt("ops@bank.example", "10.4.0.1"):
            raise RuntimeError("the hash slots were busy")
    with login.attempt("ops@bank.example", "10.4.0.1") as attempt:
        attempt.passed()
    assert login.state("ops@bank.example").failures == 0
