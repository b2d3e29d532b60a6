"""The background work of one process: job workers, the abandoned-session sweeper and the callback
sender, started and stopped together."""

from __future__ import annotations

from facematch.flows.context import Services
from facematch.worker.callbacks import CallbackSender
from facematch.worker.queue import AbandonedSweeper, InProcessQueue


class Background:
    """The job workers, the abandoned-session sweeper and the callback sender of one process."""

    def __init__(self, svc: Services) -> None:
        self.queue = InProcessQueue(svc, svc.settings.submissions.workers)
        self.sweeper = AbandonedSweeper(svc) if svc.settings.submissions.workers else None
        self.sender = CallbackSender(svc, svc.settings.callbacks.workers)
        svc.queue = self.queue

    def start(self) -> None:
        self.queue.start()
        if self.sweeper is not None:
            self.sweeper.start()
        self.sender.start()

    def stop(self) -> None:
        self.queue.stop()
        if self.sweeper is not None:
            self.sweeper.stop()
        self.sender.stop()
