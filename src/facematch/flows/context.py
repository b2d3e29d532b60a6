"""What every use case needs, built once by the app (or a CLI command) and passed in."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from facematch.clock import Clock, SystemClock
from facematch.config import Settings
from facematch.engine.types import Engine
from facematch.errors import ServiceUnavailableError
from facematch.flows.links import Links, NoLinks
from facematch.outbound.urls import UrlPolicy
from facematch.security.capacity import AnalysisPool, KeyedSlots
from facematch.security.throttle import AuthThrottle, Counters, RateLimiter
from facematch.security.tokens import TokenService
from facematch.storage import job_repo
from facematch.storage.blobs import BlobStore
from facematch.storage.db import Database
from facematch.storage.sealed import SecretBox

log = logging.getLogger(__name__)


class JobQueue(Protocol):
    """Processing queue. The durable job row is written by the confirming transaction; ``submit`` is
    called after that commit, so a queue that loses the notice (or a crash) loses nothing."""

    def submit(self, submission_id: str) -> None: ...


class ReferenceFetcher(Protocol):
    """Fetches a partner's reference image; raises ReferenceFetchError (with a ``kind``) on failure."""

    def __call__(self, url: str, *, headers: Mapping[str, str], allowed_hosts: Sequence[str]) -> bytes: ...


class NullQueue:
    """A queue that only relies on workers polling the job table."""

    def submit(self, submission_id: str) -> None:
        return None


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


@dataclass(frozen=True)
class WebLimits:
    """The hosted flow's limits: preview frames and photos per web session and per partner
    (counted in the shared counters), and one preview and one photo at a time per session."""

    previews_per_session: RateLimiter
    previews_per_partner: RateLimiter
    captures_per_session: RateLimiter
    captures_per_partner: RateLimiter
    previews_at_once: KeyedSlots = field(default_factory=lambda: KeyedSlots(1))
    captures_at_once: KeyedSlots = field(default_factory=lambda: KeyedSlots(1))


@dataclass
class Services:
    """The collaborators of the use cases, built by ``facematch.services.build_services``.
    ``engine`` is None until it has been loaded."""

    settings: Settings
    db: Database
    blobs: BlobStore
    secrets: SecretBox
    tokens: TokenService
    counters: Counters
    throttle: AuthThrottle
    rate: RateLimiter
    analysis: AnalysisPool
    web_limits: WebLimits
    fetch_reference: ReferenceFetcher
    urls: UrlPolicy
    """The URL rules of this deployment (:mod:`facematch.outbound.urls`)."""
    queue: JobQueue = field(default_factory=NullQueue)
    links: Links = field(default_factory=NoLinks)
    """The URLs flows hand out; the API sets its own (:class:`facematch.api.links.RouteLinks`)."""
    metrics: Metrics = field(default_factory=Metrics)
    engine: Engine | None = None
    clock: Clock = field(default_factory=SystemClock)
    """The time as every flow, lease and sweep sees it (tests move a ManualClock)."""

    def close(self) -> None:
        """Release what the services hold: the analysis threads and the database pool."""
        self.analysis.close()
        self.db.dispose()

    def require_engine(self) -> Engine:
        if self.engine is None:
            raise ServiceUnavailableError("the face engine is not loaded yet")
        return self.engine
