"""Settings groups of the processes: the HTTP server, jobs, callbacks, the reference fetch, the worker
and the shared limits (see :class:`facematch.config.Settings`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


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
        default=3,
        ge=1,
        description="Tries that fail unexpectedly (a poison input) before the job ends as ERROR; an "
        "unreachable image store or database and a worker's death are counted apart.",
    )
    job_max_crashes: int = Field(
        default=5,
        ge=1,
        description="Times a job's worker may die while running it (its lease lapsed) before the job "
        "ends as ERROR: an input that kills every worker that takes it stops, while kills and restarts "
        "of a cluster do not spend the tries of poison inputs.",
    )
    transient_budget_s: float = Field(
        default=300.0,
        gt=0,
        description="How long a job retries, with backoff (1 s growing to 30 s), while the image store "
        "or the database is unreachable, from its first such failure, before it ends as ERROR.",
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
        "Default: on in development, off otherwise; refused in production.",
        json_schema_extra={"shown_default": "development: `True`, else `False`"},
    )
    allow_http: bool = Field(
        default=False,
        description="Allow plain http:// reference and callback URLs. "
        "Default: on in development, off otherwise; refused in production.",
        json_schema_extra={"shown_default": "development: `True`, else `False`"},
    )
    connect_timeout_s: float = Field(default=3.0, gt=0, description="Connect timeout.")
    total_timeout_s: float = Field(default=10.0, gt=0, description="Deadline for one fetch.")
    max_bytes: int = Field(
        default=20 * 1024 * 1024, description="Largest reference body accepted (room for base64 JSON)."
    )
    retries: int = Field(default=3, ge=0, description="Retries of 5xx and timeouts, with backoff.")


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
    partner_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="The share of a process's analysis slots, and of its waiting places, that one "
        "partner may hold at once (its uploads and synchronous compares and its end users' web "
        "captures and previews together; at least one slot, and one fewer than all while there are "
        "two or more); past it the partner's requests are answered 429 PARTNER_CAPACITY_EXCEEDED with "
        "Retry-After, so its flood never takes the slots other partners' requests need. 1: no share.",
    )
    partner_analyses_at_once: int | None = Field(
        default=None,
        ge=1,
        description="Analyses one partner may have running or waiting at once over every API "
        "process together (counted in the limits storage: with redis:// it holds however requests "
        "spread over processes); past it 429 PARTNER_CAPACITY_EXCEEDED with Retry-After. Default: no "
        "bound beyond each process's `partner_share`.",
    )
