"""What every use case needs: :class:`Services`, built once per process from the settings by
:func:`facematch.services.build_services` (the API, a worker, a CLI command) and passed in; after
that only the engine is attached, once it has loaded."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from secrets import SystemRandom
from typing import Protocol

from facematch.clock import Clock, SystemClock
from facematch.config import Settings
from facematch.engine.types import Engine
from facematch.errors import ServiceUnavailableError
from facematch.flows.links import Links, NoLinks
from facematch.flows.metrics import Metrics
from facematch.outbound.safe_http import FetchPolicy
from facematch.outbound.urls import UrlPolicy
from facematch.security.capacity import AnalysisPool, KeyedSlots
from facematch.security.throttle import AuthThrottle, Counters, RateLimiter
from facematch.security.tokens import TokenService
from facematch.storage.blobs import BlobStore
from facematch.storage.db import Database
from facematch.storage.sealed import SecretBox

log = logging.getLogger(__name__)


class ReferenceFetcher(Protocol):
    """Fetches a partner's reference image; raises ReferenceFetchError (with a ``kind``) on failure."""

    def __call__(self, url: str, *, headers: Mapping[str, str], allowed_hosts: Sequence[str]) -> bytes: ...


class Doorbell:
    """Tells this process's job workers that a job was just written (a confirm here; a NOTIFY from
    another process rings it too). Only a hint: the job row is durable and idle workers poll
    anyway, so a ring that nobody hears loses nothing."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def ring(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> None:
        """Sleep until rung or ``timeout`` seconds passed."""
        if self._event.wait(timeout):
            self._event.clear()


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
    """The URL rules of this deployment (:mod:`facematch.outbound.urls`): built once, used by Initiate
    Flow, partner settings, the reference fetch and the callback sender."""
    callback_policy: FetchPolicy
    """Where and how callbacks are sent (:func:`facematch.outbound.webhooks.callback_policy` of ``urls``)."""
    doorbell: Doorbell = field(default_factory=Doorbell)
    links: Links = field(default_factory=NoLinks)
    """The URLs flows hand out; the API sets its own (:class:`facematch.api.links.RouteLinks`)."""
    metrics: Metrics = field(default_factory=Metrics)
    engine: Engine | None = None
    clock: Clock = field(default_factory=SystemClock)
    """The time as every flow, lease and sweep sees it (tests move a ManualClock)."""
    rng: random.Random = field(default_factory=SystemRandom)
    """Where liveness challenges draw their moves and nonces (tests that film a challenge in
    advance seed a ``random.Random``)."""

    def close(self) -> None:
        """Release what the services hold: the analysis threads and the database pool."""
        self.analysis.close()
        self.db.dispose()

    def require_engine(self) -> Engine:
        if self.engine is None:
            raise ServiceUnavailableError("the face engine is not loaded yet")
        return self.engine
