"""The S3 backend against a real server (SeaweedFS) when things go wrong: the server stopped, a
bucket that does not exist, refused credentials, a server that never answers, 5xx answers. Each
ends in a typed error within the configured timeouts and retries; a missing object stays
"not found"."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from facematch.errors import BlobNotFoundError, BlobStoreRefusedError, BlobStoreUnavailableError
from facematch.storage.blobs.envelope import BlobCipher
from facematch.storage.blobs.s3 import S3BlobStore, S3Options
from facematch.storage.models import utcnow
from s3kit import SeaweedFS, is_sealed_blob
from servicekit import ReceivedRequest, Receiver

CIPHER = BlobCipher(key=b"a" * 32, key_id="k1")
#: the bound on any failing call below: a few connect/read timeouts of 0.5 s and one retry's backoff
QUICK_S = 8.0


def store(server: SeaweedFS, prefix: str, **options: Any) -> S3BlobStore:
    settings: dict[str, Any] = {
        "bucket": server.bucket,
        "prefix": prefix,
        "endpoint_url": server.endpoint_url,
        "region": server.region,
        "access_key_id": server.access_key_id,
        "secret_access_key": server.secret_access_key,
        "connect_timeout_s": 0.5,
        "read_timeout_s": 0.5,
        "retries": 1,
        **options,
    }
    return S3BlobStore(S3Options(**settings), CIPHER)


def every_operation_fails(blobs: S3BlobStore, expected: type[BlobStoreUnavailableError], why: str) -> None:
    blob_id = secrets.token_hex(16)
    operations = {
        "put": lambda: blobs.put(b"selfie"),
        "get": lambda: blobs.get(blob_id),
        "delete": lambda: blobs.delete(blob_id),
        "list": lambda: list(blobs.ids_older_than(utcnow())),
        "check": blobs.check,
    }
    for name, operation in operations.items():
        started = time.monotonic()
        with pytest.raises(expected) as caught:
            operation()
        assert time.monotonic() - started < QUICK_S, name
        assert why in caught.value.message, (name, caught.value.message)
        assert caught.value.retry_after_s > 0
        assert "127.0.0.1" not in caught.value.message  # the message may reach a partner


def test_objects_are_sealed_typed_as_bytes_and_named_by_prefix_and_id(
    seaweedfs: SeaweedFS, s3_prefix: str
) -> None:
    blobs = store(seaweedfs, s3_prefix)
    blob_id = blobs.put(b"\xff\xd8\xff selfie")
    head = seaweedfs.client().head_object(Bucket=seaweedfs.bucket, Key=s3_prefix + blob_id)
    assert head["ContentType"] == "application/octet-stream"
    assert all(is_sealed_blob(raw) for raw in seaweedfs.objects(s3_prefix).values())
    assert list(seaweedfs.objects(s3_prefix)) == [s3_prefix + blob_id]


def test_a_missing_object_is_not_found_not_an_outage(seaweedfs: SeaweedFS, s3_prefix: str) -> None:
    with pytest.raises(BlobNotFoundError):
        store(seaweedfs, s3_prefix).get(secrets.token_hex(16))


def test_a_stopped_server_gives_quick_typed_errors_and_its_data_survives(
    seaweedfs: SeaweedFS, s3_prefix: str
) -> None:
    blobs = store(seaweedfs, s3_prefix)
    kept = blobs.put(b"selfie")
    with seaweedfs.stopped():
        every_operation_fails(blobs, BlobStoreUnavailableError, "unreachable")
        with pytest.raises(BlobStoreUnavailableError) as caught:
            blobs.put(b"selfie")
        assert not isinstance(caught.value, BlobStoreRefusedError)  # an outage, not a configuration error
    assert blobs.get(kept) == b"selfie"  # the same client works again once the server is back
    assert set(blobs.ids_older_than(utcnow() + timedelta(minutes=1))) == {kept}


def test_a_bucket_that_does_not_exist_is_refused(seaweedfs: SeaweedFS, s3_prefix: str) -> None:
    blobs = store(seaweedfs, s3_prefix, bucket=f"missing-{secrets.token_hex(4)}")
    every_operation_fails(blobs, BlobStoreRefusedError, "the bucket does not exist")


def test_refused_credentials_are_refused(seaweedfs: SeaweedFS, s3_prefix: str) -> None:
    every_operation_fails(
        store(seaweedfs, s3_prefix, secret_access_key="wrong"), BlobStoreRefusedError, "refused"
    )
    unknown = store(seaweedfs, s3_prefix, access_key_id="AKUNKNOWN", secret_access_key="wrong")
    every_operation_fails(unknown, BlobStoreRefusedError, "refused")


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback server that accepts connections and never answers (an overloaded or wedged store)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for connection in held:
        connection.close()
    listener.close()


def test_a_server_that_never_answers_times_out(
    seaweedfs: SeaweedFS, silent_server: str, s3_prefix: str
) -> None:
    every_operation_fails(
        store(seaweedfs, s3_prefix, endpoint_url=silent_server), BlobStoreUnavailableError, "timed out"
    )


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried_then_reported(seaweedfs: SeaweedFS, s3_prefix: str, status: int) -> None:
    body = b"<?xml version='1.0'?><Error><Code>InternalError</Code><Message>busy</Message></Error>"

    def failing(_: Receiver, __: ReceivedRequest) -> tuple[int, dict[str, str], bytes]:
        return status, {"content-type": "application/xml"}, body

    receiver = Receiver(failing).start()
    try:
        blobs = store(seaweedfs, s3_prefix, endpoint_url=receiver.url, retries=2)
        with pytest.raises(BlobStoreUnavailableError) as caught:
            blobs.put(b"selfie")
        assert f"HTTP {status}" in caught.value.message
        assert receiver.count() == 3  # the first try and two retries
    finally:
        receiver.stop()


def test_create_bucket_creates_it_once(seaweedfs: SeaweedFS) -> None:
    name = f"created-{secrets.token_hex(4)}"
    blobs = store(seaweedfs, "", bucket=name)
    with pytest.raises(BlobStoreRefusedError):
        blobs.check()
    try:
        assert blobs.create_bucket() is True
        assert blobs.create_bucket() is False
        blobs.check()
        blob_id = blobs.put(b"selfie")
        assert blobs.get(blob_id) == b"selfie"
    finally:
        seaweedfs.delete_bucket(name)
