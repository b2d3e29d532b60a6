"""The cluster backend: sealed blobs as objects ``<prefix><blob id>`` in an S3-compatible bucket
(AWS S3, MinIO, SeaweedFS, Ceph RGW, Cloudflare R2, Alibaba OSS, ...), through boto3.

Objects are sealed here before they are sent (:mod:`.envelope`) and typed
``application/octet-stream``: the store never sees an image, a face or a key. Every call is bounded
by the connect and read timeouts and boto3's retries (standard mode: connection errors, timeouts,
throttling and 5xx, with exponential backoff and jitter); what still fails becomes
BlobStoreUnavailableError, or BlobStoreRefusedError when the store answered but refused (no such
bucket, credentials or permissions not accepted). A missing object is BlobNotFoundError.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, cast

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from facematch.errors import BlobNotFoundError, BlobStoreRefusedError, BlobStoreUnavailableError
from facematch.storage.blobs import BLOB_ID, new_blob_id, require_blob_id
from facematch.storage.blobs.envelope import BlobCipher

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType

_REFUSED = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "AccountProblem",
        "NoSuchBucket",
        "InvalidBucketName",
        "PermanentRedirect",
        "AuthorizationHeaderMalformed",
    }
)


@dataclass(frozen=True, slots=True)
class S3Options:
    """Where the bucket is and how it is reached (built from ``blobs.s3`` by the composition root)."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    connect_timeout_s: float = 2.0
    read_timeout_s: float = 5.0
    retries: int = 2
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    max_connections: int = 32


def _config(options: S3Options, *, connect_s: float, read_s: float, attempts: int) -> Config:
    style = options.addressing_style
    if style == "auto" and options.endpoint_url:
        style = "path"  # what every S3-compatible server answers; virtual hosts need DNS for each bucket
    return Config(
        connect_timeout=connect_s,
        read_timeout=read_s,
        retries={"mode": "standard", "total_max_attempts": attempts},
        max_pool_connections=options.max_connections,
        s3={"addressing_style": style},
        # AES-GCM already authenticates every byte; the SDK's newer default checksums are refused by
        # several S3-compatible servers
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


def _code_and_status(error: ClientError) -> tuple[str, int]:
    code = str(error.response.get("Error", {}).get("Code", ""))
    return code, int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _bucket_missing(error: ClientError) -> bool:
    code, status = _code_and_status(error)
    return code == "NoSuchBucket" or (status == 404 and code in ("404", "NotFound"))  # HEAD has no body


def _refused_or_unavailable(action: str, error: Exception) -> BlobStoreUnavailableError:
    """The typed error for what boto3 raised after its retries (messages name no endpoint or bucket)."""
    failed = f"the image store could not {action}"
    if isinstance(error, ClientError):
        code, status = _code_and_status(error)
        if _bucket_missing(error):
            return BlobStoreRefusedError(f"{failed}: the bucket does not exist")
        if code in _REFUSED or status in (301, 400, 401, 403):
            return BlobStoreRefusedError(f"{failed}: refused ({code or status})")
        return BlobStoreUnavailableError(f"{failed}: HTTP {status} ({code})")
    if isinstance(error, ConnectTimeoutError | ReadTimeoutError):
        return BlobStoreUnavailableError(f"{failed}: timed out")
    if isinstance(error, EndpointConnectionError):
        return BlobStoreUnavailableError(f"{failed}: unreachable")
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return BlobStoreRefusedError(f"{failed}: no credentials")
    return BlobStoreUnavailableError(f"{failed}: {type(error).__name__}")


class S3BlobStore:
    """Sealed blobs in one bucket, under one key prefix. Thread-safe (boto3 clients are)."""

    def __init__(self, options: S3Options, cipher: BlobCipher) -> None:
        self._options = options
        self._bucket = options.bucket
        self._prefix = options.prefix
        self._cipher = cipher
        session = boto3.session.Session(
            aws_access_key_id=options.access_key_id,
            aws_secret_access_key=options.secret_access_key,
            region_name=options.region,
        )
        requests = _config(
            options,
            connect_s=options.connect_timeout_s,
            read_s=options.read_timeout_s,
            attempts=options.retries + 1,
        )
        # readiness probes: one quick try, so a probe answers within about the connect timeout
        probes = _config(
            options, connect_s=options.connect_timeout_s, read_s=options.connect_timeout_s, attempts=1
        )
        self._client: S3Client = session.client("s3", endpoint_url=options.endpoint_url, config=requests)
        self._probe: S3Client = session.client("s3", endpoint_url=options.endpoint_url, config=probes)

    def _key(self, blob_id: str) -> str:
        return self._prefix + require_blob_id(blob_id)

    def put(self, data: bytes) -> str:
        blob_id = new_blob_id()
        sealed = self._cipher.seal(blob_id, data)
        try:
            self._client.put_object(
                Bucket=self._bucket,
                Key=self._key(blob_id),
                Body=sealed,
                ContentType="application/octet-stream",
            )
        except (BotoCoreError, ClientError) as error:
            raise _refused_or_unavailable("store an image", error) from error
        return blob_id

    def get(self, blob_id: str) -> bytes:
        key = self._key(blob_id)
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
            raw = response["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NoSuchKey":
                raise BlobNotFoundError() from None
            raise _refused_or_unavailable("read an image", error) from error
        except BotoCoreError as error:
            raise _refused_or_unavailable("read an image", error) from error
        return self._cipher.open(blob_id, raw)

    def delete(self, blob_id: str) -> None:
        try:
            self._client.delete_object(Bucket=self._bucket, Key=self._key(blob_id))
        except (BotoCoreError, ClientError) as error:
            raise _refused_or_unavailable("delete an image", error) from error

    def ids_older_than(self, cutoff: datetime) -> Iterator[str]:
        listing = self._client.get_paginator("list_objects_v2")
        pages = listing.paginate(Bucket=self._bucket, Prefix=self._prefix)
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    blob_id = item["Key"][len(self._prefix) :]
                    if BLOB_ID.fullmatch(blob_id) and item["LastModified"] < cutoff:
                        yield blob_id
        except (BotoCoreError, ClientError) as error:
            raise _refused_or_unavailable("list the images", error) from error

    def check(self) -> None:
        try:
            self._probe.head_bucket(Bucket=self._bucket)
        except (BotoCoreError, ClientError) as error:
            raise _refused_or_unavailable("reach its bucket", error) from error

    def create_bucket(self) -> bool:
        """Create the bucket unless it exists; True when it was created (``facematch blobs init``)."""
        try:
            self._client.head_bucket(Bucket=self._bucket)
            return False
        except ClientError as error:
            if not _bucket_missing(error):
                raise _refused_or_unavailable("reach its bucket", error) from error
        except BotoCoreError as error:
            raise _refused_or_unavailable("reach its bucket", error) from error
        region = self._options.region
        try:
            if region and region != "us-east-1":  # us-east-1 takes no location constraint
                location = cast("BucketLocationConstraintType", region)
                self._client.create_bucket(
                    Bucket=self._bucket, CreateBucketConfiguration={"LocationConstraint": location}
                )
            else:
                self._client.create_bucket(Bucket=self._bucket)
        except ClientError as error:
            if _code_and_status(error)[0] == "BucketAlreadyOwnedByYou":  # created meanwhile
                return False
            raise _refused_or_unavailable("create its bucket", error) from error
        except BotoCoreError as error:
            raise _refused_or_unavailable("create its bucket", error) from error
        return True
