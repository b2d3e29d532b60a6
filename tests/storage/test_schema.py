"""The encrypted blob store and the migrated schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from facematch.storage.blobs import (
    BlobKeyError,
    BlobNotFoundError,
    EncryptedFileBlobStore,
    decode_key,
    load_or_create_key,
)
from facematch.storage.db import Database, current_revision
from facematch.storage.models import Base

PLAIN = b"\xff\xd8\xff" + b"selfie pixels " * 100


def store(
    root: Path, key: bytes = b"a" * 32, key_id: str = "k1", **previous: bytes
) -> EncryptedFileBlobStore:
    return EncryptedFileBlobStore(root, key=key, key_id=key_id, previous=previous)


def test_round_trip_and_ciphertext_at_rest(tmp_path: Path) -> None:
    blobs = store(tmp_path)
    blob_id = blobs.put(PLAIN)
    assert blobs.get(blob_id) == PLAIN
    raw = (tmp_path / blob_id[:2] / blob_id).read_bytes()
    assert b"selfie pixels" not in raw and raw.startswith(b"FMB1")
    blobs.delete(blob_id)
    with pytest.raises(BlobNotFoundError):
        blobs.get(blob_id)


def test_tampering_renaming_and_wrong_key_fail(tmp_path: Path) -> None:
    blobs = store(tmp_path)
    first, second = blobs.put(PLAIN), blobs.put(PLAIN)
    path = tmp_path / first[:2] / first
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(BlobNotFoundError):
        blobs.get(first)
    moved = tmp_path / first[:2] / first
    moved.write_bytes((tmp_path / second[:2] / second).read_bytes())  # someone else's blob under this id
    with pytest.raises(BlobNotFoundError):
        blobs.get(first)
    with pytest.raises(BlobNotFoundError):
        store(tmp_path, key=b"b" * 32).get(second)
    with pytest.raises(BlobNotFoundError):
        blobs.get("../../etc/passwd")


def test_key_rotation_keeps_old_blobs_readable(tmp_path: Path) -> None:
    old = store(tmp_path, key=b"a" * 32, key_id="k1").put(PLAIN)
    rotated = store(tmp_path, key=b"c" * 32, key_id="k2", k1=b"a" * 32)
    new = rotated.put(PLAIN)
    assert rotated.get(old) == PLAIN and rotated.get(new) == PLAIN
    with pytest.raises(BlobNotFoundError):
        store(tmp_path, key=b"c" * 32, key_id="k2").get(old)


def test_keys(tmp_path: Path) -> None:
    with pytest.raises(BlobKeyError):
        decode_key("not base64!")
    with pytest.raises(BlobKeyError):
        decode_key("YWJj")
    key = load_or_create_key(tmp_path / "blob.key")
    assert len(key) == 32 and load_or_create_key(tmp_path / "blob.key") == key
    assert (tmp_path / "blob.key").stat().st_mode & 0o777 == 0o600


def test_schema_is_migrated_and_matches_the_models(database_url: str) -> None:
    assert current_revision(database_url) is not None
    db = Database(database_url)
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    db.dispose()
    assert diff == []
