"""Settings groups of the engine, the database, the image store and tokens (see
:class:`facematch.config.Settings`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator


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
