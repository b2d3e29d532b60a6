"""The composition root: builds the services of a process from its settings.

``facematch serve`` (the API), ``facematch worker`` and every CLI command get their collaborators
here and nowhere else: the database, the encrypted image store (files or an S3 bucket), the sealed
partner secrets, the token service, the request limits, the reference fetcher, and (loaded on
demand, it is heavy) the face engine. Keys are required outside development; in development they
are generated under ``data_dir`` with a warning.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from facematch.clock import Clock, SystemClock
from facematch.config import Settings
from facematch.engine.types import Engine
from facematch.errors import BlobStoreRefusedError, BlobStoreUnavailableError
from facematch.flows.context import Services, WebLimits
from facematch.flows.links import Links, NoLinks
from facematch.flows.metrics import Metrics, QueueGauges
from facematch.outbound import reference, webhooks
from facematch.outbound.safe_http import FetchPolicy
from facematch.outbound.urls import UrlPolicy
from facematch.security.capacity import AnalysisPool, release_memory
from facematch.security.shares import ClusterShares
from facematch.security.throttle import AuthThrottle, Counters, RateLimiter
from facematch.security.tokens import TokenKeyError, TokenService, load_or_create_secret
from facematch.storage.blobs import BlobKeyError, BlobStore, decode_key, load_or_create_key
from facematch.storage.blobs.envelope import BlobCipher
from facematch.storage.blobs.file import EncryptedFileBlobStore
from facematch.storage.db import Database
from facematch.storage.sealed import SecretBox

if TYPE_CHECKING:
    from facematch.engine.facade import EngineOptions, FaceEngine

log = logging.getLogger(__name__)


def _token_secret(settings: Settings) -> bytes:
    if settings.tokens.secret is not None:
        return settings.tokens.secret.get_secret_value().encode()
    if not settings.development:
        raise TokenKeyError("FACEMATCH_TOKENS__SECRET is required outside development")
    return load_or_create_secret(settings.data_dir / "token.key")


def _keys(settings: Settings) -> tuple[bytes, dict[str, bytes]]:
    """The current data key and the previous ones by id (FACEMATCH_BLOBS__KEY and friends)."""
    blobs = settings.blobs
    if blobs.key is not None:
        key = decode_key(blobs.key.get_secret_value())
    elif settings.development:
        key = load_or_create_key(settings.data_dir / "blob.key")
    else:
        raise BlobKeyError("FACEMATCH_BLOBS__KEY is required outside development")
    previous = {kid: decode_key(value.get_secret_value()) for kid, value in blobs.previous_keys.items()}
    return key, previous


def secret_box(settings: Settings) -> SecretBox:
    """What seals and opens partner secrets (the blob key scheme, a sub-key of its own)."""
    key, previous = _keys(settings)
    return SecretBox(key=key, key_id=settings.blobs.key_id, previous=previous)


def blob_store(settings: Settings, cipher: BlobCipher | None = None) -> BlobStore:
    """The image store of ``blobs.backend``: encrypted files under data_dir/blobs, or encrypted objects in
    the S3 bucket of ``blobs.s3``. Nothing is contacted here (see :func:`check_blob_store`)."""
    if cipher is None:
        key, previous = _keys(settings)
        cipher = BlobCipher(key=key, key_id=settings.blobs.key_id, previous=previous)
    if settings.blobs.backend == "file":
        return EncryptedFileBlobStore(settings.data_dir / "blobs", cipher)
    from facematch.storage.blobs.s3 import S3BlobStore, S3Options  # boto3 only where it is used

    s3 = settings.blobs.s3
    assert s3.bucket is not None  # the settings refuse backend s3 without one
    options = S3Options(
        bucket=s3.bucket,
        prefix=s3.prefix or "",
        endpoint_url=s3.endpoint_url,
        region=s3.region,
        access_key_id=s3.access_key_id,
        secret_access_key=s3.secret_access_key.get_secret_value() if s3.secret_access_key else None,
        connect_timeout_s=s3.connect_timeout_s,
        read_timeout_s=s3.read_timeout_s,
        retries=s3.retries,
        addressing_style=s3.addressing_style,
        max_connections=s3.max_connections,
    )
    return S3BlobStore(options, cipher)


def check_blob_store(store: BlobStore) -> None:
    """The start-up check of a process that stores or reads images (``serve``, ``worker``).

    A store that refuses us (no such bucket, credentials refused) is a configuration error: the
    process does not start. One that cannot be reached right now is only logged: the process starts,
    requests that need it answer 503 with Retry-After and jobs are retried until it is back."""
    try:
        store.check()
    except BlobStoreRefusedError:
        raise
    except BlobStoreUnavailableError as error:
        log.warning("the image store is not reachable at start-up (%s); starting anyway", error)


class ReferenceFetcher:
    """The SSRF-safe reference fetch under the deployment's URL rules, with the settings' limits and
    the partner's host allowlist."""

    def __init__(self, settings: Settings, urls: UrlPolicy) -> None:
        ref = settings.reference
        self._retries = ref.retries
        self._policy = FetchPolicy(
            allowed_hosts=(),
            urls=urls,
            connect_timeout=ref.connect_timeout_s,
            total_timeout=ref.total_timeout_s,
            max_bytes=ref.max_bytes,
        )

    def __call__(self, url: str, *, headers: Mapping[str, str], allowed_hosts: Sequence[str]) -> bytes:
        policy = dataclasses.replace(self._policy, allowed_hosts=tuple(allowed_hosts))
        return reference.fetch_reference_image(url, headers=headers, policy=policy, retries=self._retries)


def url_policy(settings: Settings) -> UrlPolicy:
    """The deployment's one set of URL rules (plain http and loopback only where the settings allow
    them: development and test)."""
    return UrlPolicy(
        allow_http=settings.reference.allow_http, allow_loopback=settings.reference.allow_loopback
    )


def analysis_slots(settings: Settings) -> int:
    return settings.limits.analysis_slots or max(2, os.cpu_count() or 2)


def _web_limits(settings: Settings, counters: Counters) -> WebLimits:
    web = settings.web
    return WebLimits(
        previews_per_session=RateLimiter(
            counters,
            web.previews_per_session_per_s,
            max(1, round(web.previews_per_session_per_s * 2)),
            name="web-preview-session",
        ),
        previews_per_partner=RateLimiter(
            counters,
            web.previews_per_partner_per_s,
            max(1, round(web.previews_per_partner_per_s * 2)),
            name="web-preview-partner",
        ),
        captures_per_session=RateLimiter(
            counters,
            web.captures_per_session_per_minute / 60,
            web.captures_per_session_per_minute,
            name="web-capture-session",
        ),
        captures_per_partner=RateLimiter(
            counters,
            web.captures_per_partner_per_minute / 60,
            web.captures_per_partner_per_minute,
            name="web-capture-partner",
        ),
    )


def build_services(
    settings: Settings,
    *,
    engine: Engine | None = None,
    links: Links | None = None,
    clock: Clock | None = None,
) -> Services:
    """Everything the flows need; a missing key outside development is a start-up error.
    ``engine``: a loaded engine (else one is attached once it loads, or never in a process that
    analyses nothing); ``links``: the URLs flows hand out (the API's routes; a process without the
    API has none); ``clock``: the time the flows see (default: the real one)."""
    counters = Counters(settings.limits.storage_uri, prefix=settings.limits.key_prefix)
    tokens = settings.tokens
    key, previous = _keys(settings)
    key_id = settings.blobs.key_id
    db = Database(settings.database_url, echo=settings.database.echo)
    urls = url_policy(settings)
    metrics = Metrics()
    metrics.registry.register(QueueGauges(db))
    return Services(
        settings=settings,
        db=db,
        metrics=metrics,
        blobs=blob_store(settings, BlobCipher(key=key, key_id=key_id, previous=previous)),
        secrets=SecretBox(key=key, key_id=key_id, previous=previous),
        tokens=TokenService(_token_secret(settings)),
        counters=counters,
        throttle=AuthThrottle(
            counters,
            per_source_per_minute=tokens.auth_failures_per_minute,
            per_client_per_minute=tokens.auth_failures_per_client_per_minute,
        ),
        rate=RateLimiter(counters, settings.server.partner_rate_per_s, settings.server.partner_burst),
        analysis=AnalysisPool(
            analysis_slots(settings),
            queue=settings.limits.analysis_queue,
            wait_s=settings.limits.analysis_wait_s,
            owner_share=settings.limits.partner_share,
            cluster=(
                ClusterShares(counters, settings.limits.partner_analyses_at_once)
                if settings.limits.partner_analyses_at_once
                else None
            ),
            trim=release_memory if settings.limits.release_memory else lambda: None,
        ),
        web_limits=_web_limits(settings, counters),
        fetch_reference=ReferenceFetcher(settings, urls),
        urls=urls,
        callback_policy=webhooks.callback_policy(urls),
        engine=engine,
        links=links or NoLinks(),
        clock=clock or SystemClock(),
    )


def engine_options(settings: Settings, *, target_far: float | None = None) -> EngineOptions:
    """The engine's options from the settings (the engine never reads settings itself);
    ``target_far`` overrides both the configured FAR and any explicit threshold."""
    from facematch.engine.facade import EngineOptions

    options = settings.engine
    return EngineOptions(
        recognizer_model=options.recognizer_model,
        recognizer_calibration=options.recognizer_calibration,
        target_far=target_far if target_far is not None else options.target_far,
        threshold=None if target_far is not None else options.threshold,
        max_image_bytes=options.max_image_bytes,
        max_image_pixels=options.max_image_pixels,
        max_full_decode_pixels=options.max_full_decode_pixels,
        threads=options.threads,
    )


def load_engine(settings: Settings, *, target_far: float | None = None) -> FaceEngine:
    """The real face engine (imported here: model loading is heavy)."""
    from facematch.engine.facade import FaceEngine

    return FaceEngine.load(engine_options(settings, target_far=target_far))
