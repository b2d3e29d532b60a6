"""The console's login guard, built from the settings over the shared counters (see
:mod:`facematch.security.login_guard` for what it counts and why)."""

from __future__ import annotations

import time
from collections.abc import Callable

from facematch.flows.context import Services
from facematch.security.login_guard import GuardPolicy, LoginGuard


def login_guard(svc: Services, *, clock: Callable[[], float] = time.time) -> LoginGuard:
    console = svc.settings.console
    policy = GuardPolicy(
        per_source=console.login_failures_per_source,
        window_s=console.login_window_s,
        free_failures=console.login_failures_per_account,
        base_delay_s=console.login_delay_s,
        max_delay_s=console.login_max_delay_s,
        memory_s=console.login_memory_s,
        per_pending=console.login_codes_per_pending,
    )
    return LoginGuard(svc.counters, policy, clock=clock)
