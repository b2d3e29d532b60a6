"""The encrypted image store: what every backend offers, its errors, keys and blob ids.

Two backends keep the same sealed objects (:mod:`.envelope`): encrypted files under
``data_dir/blobs`` (:mod:`.file`, the embedded default) and an S3-compatible bucket (:mod:`.s3`).
Images are encrypted here, in the process, before they reach either: a store only ever holds
ciphertext. The composition root (``facematch.services.blob_store``) picks the backend from the
settings.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from facematch.errors import BlobKeyError, BlobNotFoundError, BlobStoreRefusedError, BlobStoreUnavailableError

log = logging.getLogger(__name__)

BLOB_ID = re.compile(r"[0-9a-f]{32}")
"""A blob id: 128 random bits in hex, chosen by the store when it writes the blob."""


class BlobStore(Protocol):
    """Where the sealed images live. Every method raises BlobStoreUnavailableError when the store
    cannot be used (after the backend's own timeouts and retries), never hangs, and never loses a
    write it reported as done."""

    def put(self, data: bytes) -> str:
        """Seal and store ``data``; returns its new blob id."""
        ...

    def get(self, blob_id: str) -> bytes:
        """The plaintext of ``blob_id``; BlobNotFoundError if there is none or it does not open."""
        ...

    def delete(self, blob_id: str) -> None:
        """Remove ``blob_id`` (nothing happens if it is not there)."""
        ...

    def ids_older_than(self, cutoff: datetime) -> Iterator[str]:
        """Every stored blob (and unfinished write) last written before ``cutoff`` (for the orphan purge)."""
        ...

    def check(self) -> None:
        """Raise BlobStoreUnavailableError (BlobStoreRefusedError: a configuration problem) unless the
        store can be reached; quick and without retries (readiness probes and start-up)."""
        ...


def new_blob_id() -> str:
    return secrets.token_hex(16)


def require_blob_id(blob_id: str) -> str:
    """``blob_id`` if it is well formed (so it can name a file or an object key), else BlobNotFoundError."""
    if not BLOB_ID.fullmatch(blob_id):
        raise BlobNotFoundError("malformed blob id")
    return blob_id


def discard(store: BlobStore, blob_id: str) -> None:
    """Delete a blob nothing refers to any more, best effort: when the store is unavailable it stays
    behind as an orphan, which ``facematch purge`` removes once it is older than the grace period."""
    try:
        store.delete(blob_id)
    except BlobStoreUnavailableError as error:
        log.warning("could not delete an unreferenced image (left for the orphan purge): %s", error)


def decode_key(value: str) -> bytes:
    """A 32-byte key from its base64 text."""
    try:
        key = base64.b64decode(value, validate=True)
    except ValueError:
        raise BlobKeyError("blob key is not base64") from None
    if len(key) != 32:
        raise BlobKeyError("blob key must be 32 bytes (AES-256)")
    return key


def load_or_create_key(path: Path) -> bytes:
    """Development only: read the key at ``path``, or generate one there (0600)."""
    if path.is_file():
        return decode_key(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = AESGCM.generate_key(bit_length=256)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(key).decode())
    log.warning("generated a development blob key at %s; set FACEMATCH_BLOBS__KEY outside development", path)
    return key


__all__ = [
    "BLOB_ID",
    "BlobKeyError",
    "BlobNotFoundError",
    "BlobStore",
    "BlobStoreRefusedError",
    "BlobStoreUnavailableError",
    "decode_key",
    "discard",
    "load_or_create_key",
    "new_blob_id",
    "require_blob_id",
]
