"""The review-deadline sweeper: a thread applying partners' default outcomes to overdue review items
(and forgetting ended console sessions and old login throttles), like the abandoned-session sweeper."""

from __future__ import annotations

import logging
import threading

from facematch.flows import console_auth, review
from facematch.flows.context import Services

log = logging.getLogger(__name__)


def sweep_console(svc: Services) -> int:
    """One pass: overdue review items get their default outcome; returns how many were decided."""
    decided = review.sweep_overdue(svc)
    console_auth.forget_ended(svc)
    return decided


class ReviewSweeper:
    """One thread running :func:`sweep_console` every ``console.review_sweep_interval_s``."""

    def __init__(self, svc: Services) -> None:
        self._svc = svc
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="facematch-review-sweeper", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        interval = self._svc.settings.console.review_sweep_interval_s
        while not self._stop.wait(interval):
            try:
                decided = sweep_console(self._svc)
            except Exception:
                log.exception("review deadline sweep error")
            else:
                if decided:
                    log.info("applied the default outcome to %d overdue review items", decided)
