"""What every use case needs, built once by the app (or a CLI command) and passed in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram

from facematch.config import Settings
from facematch.engine.types import Engine
from facematch.errors import ServiceUnavailableError
from facematch.flows.throttle import AuthThrottle, RateLimiter
from facematch.flows.tokens import TokenService
from facematch.storage.blobs import BlobStore
from facematch.storage.db import Database
from facematch.storage.sealing import SecretBox


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


@dataclass
class Services:
    """The collaborators of the use cases. ``engine`` is None until it has been loaded."""

    settings: Settings
    db: Database
    blobs: BlobStore
    tokens: TokenService
    throttle: AuthThrottle
    fetch_reference: ReferenceFetcher
    rate: RateLimiter = field(default_factory=lambda: RateLimiter(50.0, 200))
    queue: JobQueue = field(default_factory=NullQueue)
    metrics: Metrics = field(default_factory=Metrics)
    engine: Engine | None = None
    sealer: SecretBox | None = None
    """Seals small secrets stored in the database (operators' TOTP secrets)."""

    def require_engine(self) -> Engine:
        if self.engine is None:
            raise ServiceUnavailableError("the face engine is not loaded yet")
        return self.engine

    def require_sealer(self) -> SecretBox:
        if self.sealer is None:
            raise ServiceUnavailableError("no key to seal secrets with")
        return self.sealer
