"""The encrypted image store, on both backends: encrypted files and objects in a real S3 server
(SeaweedFS). Whatever the backend holds is ciphertext bound to its blob id."""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image

from facematch.storage.blobs import BlobKeyError, BlobNotFoundError, BlobStore, decode_key, load_or_create_key
from facematch.storage.blobs.envelope import BlobCipher
from facematch.storage.blobs.file import EncryptedFileBlobStore
from facematch.storage.blobs.s3 import S3BlobStore, S3Options
from facematch.storage.models import utcnow
from s3kit import SeaweedFS, is_sealed_blob

MARKER = b"selfie pixels of a real person "


def jpeg_and_png() -> tuple[bytes, bytes]:
    encoded = []
    for image_format in ("JPEG", "PNG"):
        out = io.BytesIO()
        Image.new("RGB", (48, 48), (200, 150, 120)).save(out, format=image_format)
        encoded.append(out.getvalue() + MARKER)
    return encoded[0], encoded[1]


@dataclass
class Backend:
    """One place blobs are kept, and a way past the store to the bytes it holds."""

    name: str
    open_store: Callable[[BlobCipher], BlobStore]
    raw: Callable[[str], bytes]
    write_raw: Callable[[str, bytes], None]
    write_foreign: Callable[[], None]
    """Leave something that is not a blob where the blobs are (it must never be listed)."""

    def store(self, key: bytes = b"a" * 32, key_id: str = "k1", **previous: bytes) -> BlobStore:
        return self.open_store(BlobCipher(key=key, key_id=key_id, previous=previous))


def file_backend(root: Path) -> Backend:
    def path(blob_id: str) -> Path:
        return root / blob_id[:2] / blob_id

    def foreign() -> None:
        (root / "ab").mkdir(exist_ok=True)
        (root / "ab" / "notes.txt").write_bytes(b"x")

    return Backend(
        "file",
        lambda cipher: EncryptedFileBlobStore(root, cipher),
        lambda blob_id: path(blob_id).read_bytes(),
        lambda blob_id, data: path(blob_id).write_bytes(data),
        foreign,
    )


def s3_backend(server: SeaweedFS, prefix: str) -> Backend:
    client = server.client()
    options = S3Options(
        bucket=server.bucket,
        prefix=prefix,
        endpoint_url=server.endpoint_url,
        region=server.region,
        access_key_id=server.access_key_id,
        secret_access_key=server.secret_access_key,
    )

    def raw(blob_id: str) -> bytes:
        return bytes(client.get_object(Bucket=server.bucket, Key=prefix + blob_id)["Body"].read())

    def write_raw(blob_id: str, data: bytes) -> None:
        client.put_object(Bucket=server.bucket, Key=prefix + blob_id, Body=data)

    def foreign() -> None:
        client.put_object(Bucket=server.bucket, Key=prefix + "readme.txt", Body=b"x")
        client.put_object(Bucket=server.bucket, Key=prefix + "ab/" + "0" * 32, Body=b"x")
        # another prefix's blob (another deployment sharing the bucket) is not ours to list
        client.put_object(Bucket=server.bucket, Key=f"other-{secrets.token_hex(4)}/{'1' * 32}", Body=b"x")

    return Backend("s3", lambda cipher: S3BlobStore(options, cipher), raw, write_raw, foreign)


@pytest.fixture(params=["file", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "file":
        return file_backend(tmp_path / "blobs")
    server: SeaweedFS = request.getfixturevalue("seaweedfs")
    return s3_backend(server, request.getfixturevalue("s3_prefix"))


def test_round_trip_and_ciphertext_at_rest(backend: Backend) -> None:
    blobs = backend.store()
    for image in jpeg_and_png():
        blob_id = blobs.put(image)
        assert blobs.get(blob_id) == image
        raw = backend.raw(blob_id)
        assert is_sealed_blob(raw) and MARKER not in raw
        assert raw[5 : 5 + raw[4]] == b"k1"  # the key id, in clear, so keys can rotate
        blobs.delete(blob_id)
        with pytest.raises(BlobNotFoundError):
            blobs.get(blob_id)
        blobs.delete(blob_id)  # deleting what is gone is not an error
    blobs.check()


def test_tampering_renaming_truncating_and_wrong_keys_fail(backend: Backend) -> None:
    blobs = backend.store()
    first, second = blobs.put(MARKER), blobs.put(MARKER)
    raw = bytearray(backend.raw(first))
    raw[-1] ^= 1
    backend.write_raw(first, bytes(raw))
    with pytest.raises(BlobNotFoundError):
        blobs.get(first)
    backend.write_raw(first, backend.raw(second))  # someone else's blob under this id
    with pytest.raises(BlobNotFoundError):
        blobs.get(first)
    for junk in (b"", b"FMB1", b"FMB1\x02k1", backend.raw(second)[:30], b"\xff\xd8\xff" + MARKER):
        backend.write_raw(first, junk)
        with pytest.raises(BlobNotFoundError):
            blobs.get(first)
    with pytest.raises(BlobNotFoundError):
        backend.store(key=b"b" * 32).get(second)
    for malformed in ("../../etc/passwd", "", "A" * 32, second + "/x", second[:-1]):
        with pytest.raises(BlobNotFoundError):
            blobs.get(malformed)
    assert blobs.get(second) == MARKER


def test_key_rotation_keeps_old_blobs_readable(backend: Backend) -> None:
    old = backend.store(key=b"a" * 32, key_id="k1").put(MARKER)
    rotated = backend.store(key=b"c" * 32, key_id="k2", k1=b"a" * 32)
    new = rotated.put(MARKER)
    assert rotated.get(old) == MARKER and rotated.get(new) == MARKER
    assert backend.raw(new)[5:7] == b"k2"
    with pytest.raises(BlobNotFoundError):
        backend.store(key=b"c" * 32, key_id="k2").get(old)  # the old key dropped too early


def test_listing_by_age_sees_only_blobs(backend: Backend) -> None:
    blobs = backend.store()
    written = {blobs.put(MARKER), blobs.put(MARKER)}
    backend.write_foreign()
    now = utcnow()
    assert set(blobs.ids_older_than(now + timedelta(minutes=1))) == written
    assert set(blobs.ids_older_than(now - timedelta(minutes=1))) == set()


def test_keys(tmp_path: Path) -> None:
    with pytest.raises(BlobKeyError):
        decode_key("not base64!")
    with pytest.raises(BlobKeyError):
        decode_key("YWJj")
    with pytest.raises(BlobKeyError):
        BlobCipher(key=b"a" * 32, key_id="")
    key = load_or_create_key(tmp_path / "blob.key")
    assert len(key) == 32 and load_or_create_key(tmp_path / "blob.key") == key
    assert (tmp_path / "blob.key").stat().st_mode & 0o777 == 0o600


def test_files_are_private(tmp_path: Path) -> None:
    blobs = file_backend(tmp_path / "blobs").store()
    blob_id = blobs.put(MARKER)
    assert (tmp_path / "blobs" / blob_id[:2] / blob_id).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "blobs").stat().st_mode & 0o777 == 0o700
