"""The background work of one process: job workers, the abandoned-session sweeper, the callback
sender and (on PostgreSQL) the notification listener, started and stopped together.

``facematch serve`` runs it with the settings' counts (none with both at 0); ``facematch worker``
runs it with its own, and stops it on SIGTERM by draining: jobs in hand finish, or their leases
are handed back.
"""

from __future__ import annotations

from facematch.flows.context import Services
from facematch.storage import channels
from facematch.worker.deliveries import DeliveryLoop
from facematch.worker.queue import AbandonedSweeper, JobRunners, Sweeper
from facematch.worker.review import ReviewSweeper


class Background:
    """The job workers, the abandoned-session and review-deadline sweepers and the callback sender
    of one process."""

    def __init__(self, svc: Services, *, jobs: int | None = None, deliveries: int | None = None) -> None:
        settings = svc.settings
        jobs = settings.submissions.workers if jobs is None else jobs
        deliveries = settings.callbacks.workers if deliveries is None else deliveries
        self.queue = JobRunners(svc, jobs, settings.submissions.fetch_workers if jobs else 0)
        self.sweepers: list[Sweeper] = [AbandonedSweeper(svc), ReviewSweeper(svc)] if jobs else []
        self.sender = DeliveryLoop(svc, deliveries)
        dsn = channels.conninfo(svc.db.url)
        wakers = {}
        if jobs:
            wakers[channels.JOBS_CHANNEL] = svc.doorbell.ring
        if deliveries:
            wakers[channels.OUTBOX_CHANNEL] = self.sender.wake
        self.listener = channels.Listener(dsn, wakers) if dsn and wakers else None
        self._drain_s = settings.submissions.drain_timeout_s

    def start(self) -> None:
        if self.listener is not None:
            self.listener.start()
        self.queue.start()
        for sweeper in self.sweepers:
            sweeper.start()
        self.sender.start()

    def stop(self) -> None:
        self.queue.stop(self._drain_s)
        for sweeper in self.sweepers:
            sweeper.stop()
        self.sender.stop()
        if self.listener is not None:
            self.listener.stop()
