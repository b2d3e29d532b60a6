"""The console's guard against guessing: tries are counted per source address, per account and per
pending second-factor login in the shared counters (:class:`~facematch.security.throttle.Counters`:
Redis when configured), so many addresses and many API processes together get no more tries than
one address at one process.

* **Source address**: at most ``per_source`` failed tries per ``window_s``. Each try is reserved
  before its password or code is checked and handed back when it succeeds, so parallel requests
  cannot pass the limit; and at most ``in_flight_per_source`` tries of one address run at once
  (the others are answered 429 at once instead of queueing for the password hashes that every
  client shares).
* **Account**: one try at a time (a short lock in the shared counters), so its count is exact
  under parallel requests. After ``free_failures`` failures each further try must wait a growing
  delay after the last failure (``base_delay_s`` doubling up to ``max_delay_s``); failures are
  remembered for ``memory_s``, and an admin's unlock forgets them.
* **Known browser**: a browser that completed a login to the account (its device cookie) is not
  held by the account's delay (someone guessing elsewhere cannot lock the operator out of their own
  browser); it has its own count of ``free_failures`` instead.
* **Pending login**: at most ``per_pending`` codes per pending second-factor login; then it ends
  and the password is needed again.

Times come from ``clock`` (tests inject one); the counters expire on their own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from facematch.errors import LoginFailedError, LoginThrottledError
from facematch.security.throttle import Counters

#: how long a try may hold its locks if its process dies in the middle of it
LOCK_TTL_S = 30


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    per_source: int
    window_s: int
    free_failures: int
    base_delay_s: float
    max_delay_s: float
    memory_s: int
    per_pending: int
    in_flight_per_source: int = 1

    def delay(self, failures: int) -> float:
        """The wait after the ``failures``-th failure of an account (0 while tries are free)."""
        if failures < self.free_failures:
            return 0.0
        return float(min(self.max_delay_s, self.base_delay_s * 2 ** min(30, failures - self.free_failures)))


@dataclass(frozen=True, slots=True)
class AccountState:
    """What the guard remembers of an account (for the operators page)."""

    failures: int
    blocked_for_s: int
    """Seconds until an unknown browser may try again (0: now)."""


class Attempt:
    """One try in progress: say how it ended (:meth:`failed` or :meth:`passed`)."""

    def __init__(
        self, guard: LoginGuard, account: str, source: str, device: str | None, pending: str | None
    ) -> None:
        self._guard = guard
        self._account = account
        self._source = source
        self._device = device
        self._pending = pending
        self.ended = False
        self.pending_spent = False
        """After :meth:`failed`: the pending login has no code left (end it)."""

    def failed(self) -> None:
        """A wrong password or code: counted for the source, the account, the browser and the
        pending login."""
        self.ended = True
        self.pending_spent = self._guard._count_failure(self._account, self._device, self._pending)

    def passed(self) -> None:
        """A right answer: the source's reservation is handed back."""
        self.ended = True
        self._guard._refund_source(self._source)


class LoginGuard:
    def __init__(
        self, counters: Counters, policy: GuardPolicy, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._counters = counters
        self.policy = policy
        self._clock = clock

    @contextmanager
    def attempt(
        self, account: str, source: str, *, device: str | None = None, pending: str | None = None
    ) -> Iterator[Attempt]:
        """Admit one try of ``account`` from ``source`` or raise LoginThrottledError (with the
        seconds to wait). ``device``: the browser's device id when its cookie names this account;
        ``pending``: the pending login whose code this is. A try that ends in an exception (the
        service was busy) counts as nothing."""
        counters, policy = self._counters, self.policy
        with ExitStack() as held:
            self._lock(held, "login-busy-source", policy.in_flight_per_source, source)
            reserved = counters.add("login-source", policy.window_s, 1, source)
            if reserved > policy.per_source:
                counters.add("login-source", policy.window_s, -1, source)
                raise LoginThrottledError(self._wait("login-source", source))
            attempt = Attempt(self, account, source, device, pending)
            try:
                self._lock(held, "login-busy-account", 1, account)
                self._check_account(account, device)
                if pending is not None and counters.value("login-pending", pending) >= policy.per_pending:
                    raise LoginFailedError("too many wrong codes: log in again")
                yield attempt
            finally:
                if not attempt.ended:
                    self._refund_source(source)

    def _lock(self, held: ExitStack, name: str, limit: int, key: str) -> None:
        counters = self._counters
        if counters.add(name, LOCK_TTL_S, 1, key) > limit:
            counters.add(name, LOCK_TTL_S, -1, key)
            raise LoginThrottledError(1)
        held.callback(counters.add, name, LOCK_TTL_S, -1, key)

    def _check_account(self, account: str, device: str | None) -> None:
        counters = self._counters
        if device is not None and counters.value("login-device", account, device) < self.policy.free_failures:
            return  # a known browser is held only by its own count
        until = counters.value("login-blocked-until", account)
        now = self._clock()
        if until > now:
            raise LoginThrottledError(max(1, math.ceil(until - now)))

    def _wait(self, name: str, *identifiers: str) -> int:
        return max(1, math.ceil(self._counters.expires_in(name, *identifiers)))

    def _refund_source(self, source: str) -> None:
        self._counters.add("login-source", self.policy.window_s, -1, source)

    def _count_failure(self, account: str, device: str | None, pending: str | None) -> bool:
        counters, policy = self._counters, self.policy
        failures = counters.add("login-account", policy.memory_s, 1, account)
        delay = policy.delay(failures)
        if delay:
            # under the account's lock: no other try of this account runs meanwhile
            counters.forget("login-blocked-until", account)
            counters.add("login-blocked-until", delay + 1, math.ceil(self._clock() + delay), account)
        if device is not None:
            counters.add("login-device", policy.memory_s, 1, account, device)
        if pending is None:
            return False
        return counters.add("login-pending", policy.window_s, 1, pending) >= policy.per_pending

    def state(self, account: str) -> AccountState:
        until = self._counters.value("login-blocked-until", account)
        return AccountState(
            self._counters.value("login-account", account), max(0, math.ceil(until - self._clock()))
        )

    def unlock(self, account: str) -> None:
        """Forget the account's failures and its delay (an admin's unlock)."""
        self._counters.forget("login-account", account)
        self._counters.forget("login-blocked-until", account)
