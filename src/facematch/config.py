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
    max_image_pixels: int = Field(
        default=50_000_000,
        description="Largest accepted JPEG (pixels). JPEGs this large are decoded at a reduced size, "
        "so their cost stays that of a few megapixels.",
    )
    max_full_decode_pixels: int = Field(
        default=4096 * 4096,
        description="Largest accepted PNG, WebP or HEIC image (pixels). These formats cannot be decoded "
        "at a reduced size, so their budget is what a face needs (a 12 MP phone photo fits).",
    )
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


class S3Settings(BaseModel):
    """The bucket of ``blobs.backend=s3``: AWS S3 or any S3-compatible store (MinIO, SeaweedFS, Ceph RGW,
    Cloudflare R2, Alibaba OSS, ...). Images are encrypted before they are sent."""

    endpoint_url: str | None = Field(
        default=None,
        description="Base URL of the S3 API, e.g. http://minio:9000. Default: AWS S3 in the region.",
    )
    bucket: str | None = Field(
        default=None,
        description="Bucket of the images (required with backend s3); `facematch blobs init` creates it.",
    )
    region: str | None = Field(
        default=None,
        description="Region the requests are signed for. Default: the AWS SDK's (AWS_REGION, ~/.aws/config), "
        "else us-east-1.",
    )
    access_key_id: str | None = Field(
        default=None,
        description="Access key id. Default: the AWS SDK's credential chain (environment, ~/.aws, an "
        "instance or pod role).",
    )
    secret_access_key: SecretStr | None = Field(
        default=None, description="Secret access key (set together with access_key_id)."
    )
    prefix: str | None = Field(
        default=None,
        description="Prepended to every object key (e.g. `facematch/`), so that the bucket can hold other "
        "things too. Default: none, the key of an image is its blob id.",
    )
    connect_timeout_s: float = Field(default=2.0, gt=0, description="Connect timeout of one S3 request.")
    read_timeout_s: float = Field(
        default=5.0, gt=0, description="Longest wait for data from S3 within one request."
    )
    retries: int = Field(
        default=2,
        ge=0,
        description="Retries of a request after a connection error, timeout, throttling or 5xx (exponential "
        "backoff with jitter); then uploads and the synchronous compare answer 503 and jobs are retried.",
    )
    addressing_style: Literal["auto", "path", "virtual"] = Field(
        default="auto",
        description="path: host/bucket/key; virtual: bucket.host/key; auto: path with an endpoint_url, "
        "else the SDK's choice.",
    )
    max_connections: int = Field(default=32, gt=0, description="Pooled S3 connections per process.")


class BlobSettings(BaseModel):
    """The encrypted image store."""

    backend: Literal["file", "s3"] = Field(
        default="file",
        description="Where images are stored: file (encrypted files under data_dir/blobs) or s3 (encrypted "
        "objects in the bucket of blobs.s3).",
    )
    s3: S3Settings = Field(default_factory=S3Settings)
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
    orphan_grace_s: int = Field(
        default=86_400,
        gt=0,
        description="`facematch purge` deletes stored images that no attempt refers to (left by a crash "
        "between storing an image and recording it) once they are older than this.",
    )

    @model_validator(mode="after")
    def _s3_is_complete(self) -> BlobSettings:
        s3 = self.s3
        if self.backend == "s3" and not s3.bucket:
            raise ValueError("blobs.s3.bucket is required with blobs.backend=s3")
        if (s3.access_key_id is None) != (s3.secret_access_key is None):
            raise ValueError("blobs.s3.access_key_id and secret_access_key are set together")
        return self


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
    auth_failures_per_client_per_minute: int = Field(
        default=50,
        gt=0,
        description="Wrong pass-keys allowed per client-id per minute from all addresses together; past it, "
        "addresses that have not authenticated successfully in the last 7 days get 429.",
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
    max_json_body_bytes: int = Field(
        default=1024 * 1024,
        gt=0,
        description="Largest request body of endpoints that take no image (Initiate Flow, confirm, ...).",
    )
    header_timeout_s: float = Field(
        default=10.0, gt=0, description="Time a client has to send a request's line and headers."
    )
    body_idle_timeout_s: float = Field(
        default=15.0, gt=0, description="Longest pause between two parts of a request body."
    )
    body_timeout_s: float = Field(
        default=120.0, gt=0, description="Time a client has to send a whole request body."
    )
    keep_alive_s: float = Field(
        default=5.0, gt=0, description="How long an idle keep-alive connection stays open."
    )
    max_connections: int = Field(
        default=2000,
        gt=0,
        description="Open connections accepted at once (kept below the process's file-descriptor limit).",
    )
    max_connections_per_address: int = Field(
        default=100,
        ge=0,
        description="Open connections accepted at once from one client address (0: no cap; not applied "
        "with proxy_headers, where the proxy enforces it).",
    )


class SubmissionSettings(BaseModel):
    """Submissions, attempts and processing workers."""

    default_max_attempts: int = Field(
        default=3, ge=1, description="Attempts per partner session (new partners)."
    )
    workers: int = Field(
        default=2,
        ge=0,
        description="Job workers (analyses at once) of `facematch serve` and the default of "
        "`facematch worker --jobs` (0 in serve: no job processing and no sweeper in the API process).",
    )
    fetch_workers: int = Field(
        default=8,
        ge=0,
        description="Further job threads per process that may wait on partners' reference servers at "
        "once; a job holds one of the `workers` CPU slots only while it analyses.",
    )
    max_running_per_partner: int | None = Field(
        default=None,
        ge=1,
        description="Jobs of one partner running at once in the whole cluster before its next job waits "
        "(claims already go to the partner with the fewest running). Default: half of one process's "
        "job threads.",
    )
    drain_timeout_s: float = Field(
        default=30.0,
        ge=0,
        description="On SIGTERM, how long a worker waits for the jobs in hand before it hands their "
        "leases back.",
    )
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
        "(idle longer than the partner's retry window).",
    )
    sync_deadline_s: float = Field(
        default=20.0,
        gt=0,
        description="Deadline of a synchronous compare: past it the answer is 503 SERVICE_UNAVAILABLE "
        "and nothing is recorded (the partner may retry with the same x-partner-session-id).",
    )


class CallbackSettings(BaseModel):
    """Completion callbacks (Standard Webhooks)."""

    workers: int = Field(
        default=1,
        ge=0,
        description="Delivery threads of `facematch serve` and the default of `facematch worker "
        "--deliveries` (0 in serve: no deliveries from the API process).",
    )
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
    previews_per_session_per_s: float = Field(
        default=4.0, gt=0, description="Guidance preview frames one web session may send per second."
    )
    previews_per_partner_per_s: float = Field(
        default=100.0,
        gt=0,
        description="Guidance preview frames all of one partner's sessions may send per second.",
    )
    captures_per_session_per_minute: int = Field(
        default=10, gt=0, description="Photos one web session may send per minute."
    )
    captures_per_partner_per_minute: int = Field(
        default=600, gt=0, description="Photos all of one partner's web sessions may send per minute."
    )
    max_refused_captures: int = Field(
        default=30,
        gt=0,
        description="Photos without a usable face a web session may send (they use no attempt); "
        "past it the session's photos are refused with 429.",
    )


class WorkerSettings(BaseModel):
    """`facematch worker`: where its health and metrics endpoints listen."""

    host: str = Field(default="127.0.0.1", description="Address of the worker's /healthz and /metrics.")
    port: int = Field(default=8090, description="Port of the worker's /healthz and /metrics.")


class LimitsSettings(BaseModel):
    """Limits on work: where the request counters live and how many analyses run at once."""

    storage_uri: str = Field(
        default="memory://",
        description="Storage of the rate limits and the pass-key throttle (the `limits` library): "
        "memory:// counts per process; redis://host:6379 shares them between API processes (while "
        "Redis is down each process counts on its own).",
    )
    key_prefix: str = Field(
        default="facematch", min_length=1, description="Prefix of every key in the shared limits storage."
    )
    analysis_slots: int | None = Field(
        default=None,
        ge=1,
        description="Images decoded and analysed at once for requests in one process (uploads, the "
        "synchronous compare, web captures and previews). Default: the number of CPUs, at least 2.",
    )
    release_memory: bool = Field(
        default=True,
        description="Hand freed heap memory back to the operating system after analyses (glibc "
        "malloc_trim); without it the process keeps the high-water mark of its largest images.",
    )
    analysis_queue: int = Field(
        default=64,
        ge=0,
        description="Requests that may wait for an analysis slot; past it a request is answered 503 "
        "with Retry-After at once.",
    )
    analysis_wait_s: float = Field(
        default=10.0,
        ge=0,
        description="How long a request waits for an analysis slot before it is answered 503 with "
        "Retry-After.",
    )


class AdminSettings(BaseModel):
    """Operator endpoints: /metrics and the OpenAPI documents (/docs, /redoc, /openapi.json)."""

    token: SecretStr | None = Field(
        default=None,
        description="Bearer token required for /metrics and the API documents. Outside development and "
        "test they answer 404 while no token is set.",
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
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
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
