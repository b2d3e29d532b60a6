"""Build the services from the settings (keys, database, blobs, reference fetcher) and run the
background threads (job workers, callback sender). Used by the app, the CLI and the tests."""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from facematch.config import Settings
from facematch.engine.types import Engine
from facematch.flows import reference
from facematch.flows.context import Services
from facematch.flows.safe_http import FetchPolicy
from facematch.flows.throttle import AuthThrottle, RateLimiter
from facematch.flows.tokens import TokenKeyError, TokenService, load_or_create_secret
from facematch.storage.blobs import BlobKeyError, EncryptedFileBlobStore, decode_key, load_or_create_key
from facematch.storage.db import Database
from facematch.storage.sealing import SecretBox
from facematch.worker.callbacks import CallbackSender
from facematch.worker.queue import AbandonedSweeper, InProcessQueue, Sweeper
from facematch.worker.review import ReviewSweeper

if TYPE_CHECKING:
    from facematch.engine.facade import EngineOptions, FaceEngine

log = logging.getLogger(__name__)


def _token_secret(settings: Settings) -> bytes:
    if settings.tokens.secret is not None:
        return settings.tokens.secret.get_secret_value().encode()
    if not settings.development:
        raise TokenKeyError("FACEMATCH_TOKENS__SECRET is required outside development")
    return load_or_create_secret(settings.data_dir / "token.key")


def _blob_keys(settings: Settings) -> tuple[bytes, dict[str, bytes]]:
    """The current blob key and the previous ones by id."""
    blobs = settings.blobs
    if blobs.key is not None:
        key = decode_key(blobs.key.get_secret_value())
    elif settings.development:
        key = load_or_create_key(settings.data_dir / "blob.key")
    else:
        raise BlobKeyError("FACEMATCH_BLOBS__KEY is required outside development")
    previous = {kid: decode_key(value.get_secret_value()) for kid, value in blobs.previous_keys.items()}
    return key, previous


class ReferenceFetcher:
    """The SSRF-safe reference fetch with the settings' limits and the partner's host allowlist."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings.reference

    def __call__(self, url: str, *, headers: Mapping[str, str], allowed_hosts: Sequence[str]) -> bytes:
        ref = self._settings
        policy = FetchPolicy(
            allowed_hosts=tuple(allowed_hosts),
            allow_http=ref.allow_http,
            allow_loopback=ref.allow_loopback,
            connect_timeout=ref.connect_timeout_s,
            total_timeout=ref.total_timeout_s,
            max_bytes=ref.max_bytes,
        )
        return reference.fetch_reference_image(url, headers=headers, policy=policy, retries=ref.retries)


def build_services(settings: Settings, *, engine: Engine | None = None) -> Services:
    """Everything the flows need; a missing key outside development is a start-up error."""
    if settings.reference.allow_loopback and not settings.development and settings.environment != "test":
        raise TokenKeyError("reference.allow_loopback is only allowed in development and test")
    key, previous = _blob_keys(settings)
    key_id = settings.blobs.key_id
    return Services(
        settings=settings,
        db=Database(settings.database_url, echo=settings.database.echo),
        blobs=EncryptedFileBlobStore(settings.data_dir / "blobs", key=key, key_id=key_id, previous=previous),
        tokens=TokenService(_token_secret(settings)),
        throttle=AuthThrottle(settings.tokens.auth_failures_per_minute),
        fetch_reference=ReferenceFetcher(settings),
        rate=RateLimiter(settings.server.partner_rate_per_s, settings.server.partner_burst),
        engine=engine,
        sealer=SecretBox(key=key, key_id=key_id, previous=previous),
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
        threads=options.threads,
    )


def load_engine(settings: Settings, *, target_far: float | None = None) -> FaceEngine:
    """The real face engine (imported here: model loading is heavy)."""
    from facematch.engine.facade import FaceEngine

    return FaceEngine.load(engine_options(settings, target_far=target_far))


class Background:
    """The job workers, the abandoned-session and review-deadline sweepers and the callback sender
    of one process."""

    def __init__(self, svc: Services) -> None:
        self.queue = InProcessQueue(svc, svc.settings.submissions.workers)
        workers = svc.settings.submissions.workers
        self.sweepers: list[Sweeper] = [AbandonedSweeper(svc), ReviewSweeper(svc)] if workers else []
        self.sender = CallbackSender(svc, svc.settings.callbacks.workers)
        svc.queue = self.queue

    def start(self) -> None:
        self.queue.start()
        for sweeper in self.sweepers:
            sweeper.start()
        self.sender.start()

    def stop(self) -> None:
        self.queue.stop()
        for sweeper in self.sweepers:
            sweeper.stop()
        self.sender.stop()


def generate_key() -> str:
    """A fresh base64 AES-256 key (for FACEMATCH_BLOBS__KEY)."""
    import os

    return base64.b64encode(os.urandom(32)).decode()
