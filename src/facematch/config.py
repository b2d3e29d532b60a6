"""The one settings object. Built by :func:`get_settings` and passed in; never read at import.

Every field can be set from the environment with the ``FACEMATCH_`` prefix; nested groups use a
double underscore, e.g. ``FACEMATCH_ENGINE__TARGET_FAR=0.0001``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class EngineSettings(BaseModel):
    """How faces are found, checked and compared."""

    recognizer_model: Path | None = Field(
        default=None,
        description="Path to an alternative ONNX recognizer (112x112 RGB, 5-point aligned). "
        "Requires recognizer_calibration. Default: the bundled SFace model.",
    )
    recognizer_calibration: Path | None = Field(
        default=None,
        description="JSON calibration file for recognizer_model (see docs/engine.md).",
    )
    target_far: float = Field(
        default=1e-3,
        gt=0,
        lt=1,
        description="False-accept rate the default decision threshold is chosen for "
        "(calibrated operating points: 0.01, 0.001, 0.0001; others are interpolated).",
    )
    threshold: float | None = Field(
        default=None,
        description="Explicit cosine-similarity threshold; overrides target_far when set.",
    )
    max_image_bytes: int = Field(default=15 * 1024 * 1024, description="Largest accepted encoded image.")
    max_image_pixels: int = Field(default=50_000_000, description="Largest accepted decoded image (pixels).")
    threads: int = Field(
        default=1,
        ge=1,
        description="OpenCV/onnxruntime threads per inference call "
        "(parallelism comes from concurrent requests).",
    )


class DatabaseSettings(BaseModel):
    """Where submissions, partners, jobs and the callback outbox live."""

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db. "
        "Default: a SQLite file facematch.db under data_dir.",
    )
    echo: bool = Field(default=False, description="Log every SQL statement (debugging only).")


class BlobSettings(BaseModel):
    """The encrypted image store."""

    key: SecretStr | None = Field(
        default=None,
        description="Base64 of a 32-byte AES-256-GCM key. Required outside development; in development a "
        "key is generated into data_dir/blob.key with a warning.",
    )
    key_id: str = Field(default="k1", description="Id stored with every blob, so keys can be rotated.")
    previous_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Older keys by id (base64), still used to decrypt blobs written before a rotation.",
    )
    retention_days: int = Field(
        default=30, ge=0, description="`facematch purge` deletes images older than this (results stay)."
    )


class TokenSettings(BaseModel):
    """Signed tokens: partner, user, launch, upload and image-URL tokens (HS256 JWTs)."""

    secret: SecretStr | None = Field(
        default=None,
        description="HMAC key for every token (≥32 bytes). Required outside development; in development "
        "one is generated into data_dir/token.key.",
    )
    partner_ttl_s: int = Field(default=3600, gt=0, description="Partner token lifetime.")
    user_ttl_s: int = Field(default=5_184_000, gt=0, description="User and launch token lifetime (60 days).")
    upload_ttl_s: int = Field(default=600, gt=0, description="Presigned upload URL lifetime.")
    image_url_ttl_s: int = Field(default=300, gt=0, description="Signed selfie URL lifetime in results.")
    passkey_overlap_s: int = Field(
        default=86_400, ge=0, description="How long the previous pass-key stays valid after a rotation."
    )
    auth_failures_per_minute: int = Field(
        default=10,
        gt=0,
        description="Wrong pass-keys allowed per client-id and source address per minute before 429.",
    )


class ServerSettings(BaseModel):
    """How the HTTP service is reached."""

    host: str = Field(default="127.0.0.1", description="Address `facematch serve` binds.")
    port: int = Field(default=8000, description="Port `facematch serve` binds.")
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base URL partners and browsers use; presigned, image and launch URLs start with it.",
    )
    launch_path: str = Field(
        default="/web/index.html#/launch-v1?token=",
        description="Web app path of the launch URL; the launch token is appended (in the fragment).",
    )
    max_body_bytes: int = Field(default=32 * 1024 * 1024, description="Largest request body accepted.")
    partner_rate_per_s: float = Field(
        default=50.0, gt=0, description="Sustained authenticated requests per second allowed per partner."
    )
    partner_burst: int = Field(default=200, gt=0, description="Requests a partner may send in a burst.")
    proxy_headers: bool = Field(
        default=False, description="Trust X-Forwarded-For from a reverse proxy for client addresses."
    )


class SubmissionSettings(BaseModel):
    """Submissions, attempts and processing workers."""

    default_max_attempts: int = Field(
        default=3, ge=1, description="Attempts per partner session (new partners)."
    )
    workers: int = Field(default=2, ge=0, description="Processing threads started with the app (0: none).")
    job_lease_s: float = Field(
        default=30.0, gt=0, description="A job whose worker stops heart-beating is retaken after this."
    )
    job_max_tries: int = Field(
        default=3, ge=1, description="Tries before an unexpectedly failing job ends as ERROR."
    )
    poll_interval_s: float = Field(default=0.5, gt=0, description="How often idle workers look for jobs.")
    sweep_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="How often a worker finishes sessions whose user left after being offered a retry "
        "(idle longer than web.session_ttl_s).",
    )


class CallbackSettings(BaseModel):
    """Completion callbacks (Standard Webhooks)."""

    workers: int = Field(default=1, ge=0, description="Delivery threads started with the app (0: none).")
    lease_s: float = Field(default=60.0, gt=0, description="A claimed delivery is retaken after this.")
    poll_interval_s: float = Field(default=0.5, gt=0, description="How often the delivery loop looks.")


class ReferenceSettings(BaseModel):
    """Fetching the partner's reference image and reaching partner endpoints."""

    allow_loopback: bool = Field(
        default=False,
        description="Allow loopback reference and callback URLs (local demos and tests). "
        "Refused outside development and test.",
    )
    allow_http: bool = Field(
        default=False, description="Allow plain http:// reference and callback URLs (development only)."
    )
    connect_timeout_s: float = Field(default=3.0, gt=0, description="Connect timeout.")
    total_timeout_s: float = Field(default=10.0, gt=0, description="Deadline for one fetch.")
    max_bytes: int = Field(
        default=20 * 1024 * 1024, description="Largest reference body accepted (room for base64 JSON)."
    )
    retries: int = Field(default=3, ge=0, description="Retries of 5xx and timeouts, with backoff.")


class WebSettings(BaseModel):
    """The hosted H5 app (Web SDK) and its Smart QR handoff."""

    session_ttl_s: int = Field(
        default=3600,
        gt=0,
        description="Lifetime of a web session (after the launch token or QR link is used).",
    )
    handoff_ttl_s: int = Field(
        default=600, gt=0, le=600, description="Lifetime of a Smart QR link (at most 10 minutes)."
    )
    preview_max_bytes: int = Field(
        default=400_000, gt=0, description="Largest guidance preview frame accepted from the app."
    )
    capture_max_bytes: int = Field(
        default=8 * 1024 * 1024, gt=0, description="Largest selfie capture accepted."
    )


class ConsoleSettings(BaseModel):
    """The operator console under /console: operators, sessions, the review queue."""

    enabled: bool = Field(default=True, description="Serve the operator console under /console.")
    session_idle_s: int = Field(
        default=1800, gt=0, description="An operator session ends after this long without a request."
    )
    session_absolute_s: int = Field(
        default=43_200, gt=0, description="An operator session ends this long after login, however busy."
    )
    login_step_ttl_s: int = Field(
        default=300, gt=0, description="Time to enter the second factor (or enrol it) after the password."
    )
    login_failures_per_account: int = Field(
        default=5,
        gt=0,
        description="Failed logins allowed per e-mail and source address per login_window_s before 429.",
    )
    login_failures_per_source: int = Field(
        default=30, gt=0, description="Failed logins allowed per source address per login_window_s."
    )
    login_window_s: int = Field(default=900, gt=0, description="Window of the login throttles.")
    image_url_ttl_s: int = Field(
        default=120,
        gt=0,
        le=600,
        description="Lifetime of a console image URL (bound to the operator session).",
    )
    review_deadline_s: int = Field(
        default=86_400,
        gt=0,
        description="Default time a review-queue item may wait before its partner's default outcome applies.",
    )
    review_sweep_interval_s: float = Field(
        default=30.0,
        gt=0,
        description="How often a worker applies the default outcome to overdue review items.",
    )
    page_size: int = Field(default=50, ge=10, le=500, description="Rows per page in console lists.")


class Settings(BaseSettings):
    """All of facematch's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="FACEMATCH_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    environment: Literal["development", "test", "production"] = Field(
        default="development",
        description="development enables generated keys, the demo partner and loopback reference URLs.",
    )
    data_dir: Path = Field(default=Path("var"), description="Where the SQLite file, blobs and keys live.")
    engine: EngineSettings = Field(default_factory=EngineSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    blobs: BlobSettings = Field(default_factory=BlobSettings)
    tokens: TokenSettings = Field(default_factory=TokenSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    submissions: SubmissionSettings = Field(default_factory=SubmissionSettings)
    callbacks: CallbackSettings = Field(default_factory=CallbackSettings)
    reference: ReferenceSettings = Field(default_factory=ReferenceSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)

    @model_validator(mode="after")
    def _no_dev_shortcuts_in_production(self) -> Settings:
        if self.environment == "production" and (self.reference.allow_loopback or self.reference.allow_http):
            raise ValueError("reference.allow_loopback / allow_http are refused in production")
        return self

    @property
    def development(self) -> bool:
        return self.environment == "development"

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_dir / 'facematch.db'}"


def get_settings() -> Settings:
    """Build the settings from the environment (and ``.env`` if present)."""
    return Settings()
