"""The process's Prometheus metrics: requests, decided submissions and callback deliveries counted
by this process, and the cluster's queues read from the database at each scrape."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from facematch.storage import job_repo
from facematch.storage.db import Database

log = logging.getLogger(__name__)


class QueueGauges:
    """Prometheus collector of the cluster's queues, read from the database at each scrape: every
    process reports the same values (scrape one of them, or take the max)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with self._db.session() as session:
                stats = job_repo.queue_stats(session=session)
        except Exception:
            log.warning("queue gauges unavailable", exc_info=True)
            return
        yield GaugeMetricFamily("facematch_jobs_queued", "Jobs due and waiting for a worker", stats.jobs_due)
        yield GaugeMetricFamily(
            "facematch_jobs_oldest_queued_seconds", "Age of the oldest due job", stats.oldest_due_age_s
        )
        running = GaugeMetricFamily("facematch_jobs_running", "Jobs running, by partner", labels=["partner"])
        for partner, count in sorted(stats.running_per_partner.items()):
            running.add_metric([partner], count)
        yield running
        yield GaugeMetricFamily(
            "facematch_callbacks_pending", "Callback messages due for delivery", stats.callbacks_pending
        )
        yield GaugeMetricFamily(
            "facematch_callbacks_oldest_pending_seconds",
            "How long the oldest due callback has waited",
            stats.oldest_callback_age_s,
        )
        yield GaugeMetricFamily(
            "facematch_callbacks_dead", "Dead-lettered callback messages", stats.callbacks_dead
        )


class Metrics:
    """Prometheus metrics of one app instance (own registry, so several apps can live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "facematch_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "facematch_http_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.submissions = Counter(
            "facematch_submissions",
            "Decided submissions",
            ["status", "result", "reason"],
            registry=self.registry,
        )
        self.callbacks = Counter(
            "facematch_callback_deliveries", "Callback delivery attempts", ["outcome"], registry=self.registry
        )
