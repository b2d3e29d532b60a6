"""The delivery loop: threads that deliver the due completion callbacks of the outbox (flows.outbox)."""

from __future__ import annotations

import logging
import secrets
import threading

from facematch.flows import outbox
from facematch.flows.context import Services

log = logging.getLogger(__name__)


class DeliveryLoop:
    """``workers`` threads delivering due messages; :meth:`wake` (a NOTIFY) cuts a poll short."""

    def __init__(self, svc: Services, workers: int) -> None:
        self._svc = svc
        self._workers = workers
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self.owner = f"cb-{secrets.token_hex(6)}"

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        for number in range(self._workers):
            thread = threading.Thread(target=self._loop, name=f"facematch-deliveries-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop after the deliveries in hand (a delivery cut short is re-sent with the same id once
        its lease lapses: at least once, never lost)."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def _loop(self) -> None:
        poll = self._svc.settings.callbacks.poll_interval_s
        while not self._stop.is_set():
            try:
                sent = outbox.deliver_next(self._svc, self.owner)
            except Exception:
                log.exception("callback loop error")
                sent = False
            if not sent:
                self._wake.wait(poll)
                self._wake.clear()
