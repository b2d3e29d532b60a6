"""The review-deadline sweeper: a thread applying partners' default outcomes to overdue review items
(and forgetting ended console sessions), like the abandoned-session sweeper."""

from __future__ import annotations

from facematch.flows import verdicts
from facematch.flows.console import auth as console_auth
from facematch.flows.context import Services
from facematch.worker.queue import Sweeper


def sweep_console(svc: Services) -> int:
    """One pass: overdue review items get their default outcome; returns how many were decided."""
    decided = verdicts.sweep_overdue_reviews(svc)
    console_auth.forget_ended(svc)
    return decided


class ReviewSweeper(Sweeper):
    """:func:`sweep_console` every ``console.review_sweep_interval_s``."""

    def __init__(self, svc: Services) -> None:
        super().__init__(
            svc,
            sweep_console,
            name="facematch-review-sweeper",
            interval=svc.settings.console.review_sweep_interval_s,
            done="applied the default outcome to %d overdue review items",
        )
