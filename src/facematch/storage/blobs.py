"""Encrypted blob store: AES-256-GCM files under ``data_dir/blobs``, named by random ids.

File layout: ``FMB1`` | key-id length (1 byte) | key id | 12-byte nonce | ciphertext+tag. The blob id
is the associated data, so a file copied under another name does not decrypt.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from facematch.errors import FacematchError

log = logging.getLogger(__name__)

_MAGIC = b"FMB1"
_BLOB_ID = re.compile(r"[0-9a-f]{32}")


class BlobKeyError(FacematchError):
    """The blob encryption key is missing or malformed."""

    code = "BLOB_KEY_ERROR"


class BlobNotFoundError(FacematchError):
    """No blob with this id (or it cannot be decrypted with the configured keys)."""

    code = "BLOB_NOT_FOUND"


class BlobStore(Protocol):
    def put(self, data: bytes) -> str: ...

    def get(self, blob_id: str) -> bytes: ...

    def delete(self, blob_id: str) -> None: ...

    def ids_older_than(self, cutoff: datetime) -> Iterator[str]:
        """Every stored blob (and unfinished write) last written before ``cutoff`` (for the orphan purge)."""
        ...


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


class EncryptedFileBlobStore:
    """Files encrypted with the current key; older keys (by id) still decrypt."""

    def __init__(
        self, root: Path, *, key: bytes, key_id: str, previous: Mapping[str, bytes] | None = None
    ) -> None:
        if not 0 < len(key_id.encode()) < 256:
            raise BlobKeyError("key id must be 1..255 bytes")
        self._root = root
        self._key_id = key_id
        self._keys = {**(previous or {}), key_id: key}
        root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, blob_id: str) -> Path:
        if not _BLOB_ID.fullmatch(blob_id):
            raise BlobNotFoundError("malformed blob id")
        return self._root / blob_id[:2] / blob_id

    def put(self, data: bytes) -> str:
        blob_id = secrets.token_hex(16)
        nonce = os.urandom(12)
        sealed = AESGCM(self._keys[self._key_id]).encrypt(nonce, data, blob_id.encode())
        kid = self._key_id.encode()
        path = self._path(blob_id)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            handle.write(_MAGIC + bytes([len(kid)]) + kid + nonce + sealed)
        tmp.replace(path)
        return blob_id

    def get(self, blob_id: str) -> bytes:
        path = self._path(blob_id)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise BlobNotFoundError() from None
        if raw[:4] != _MAGIC:
            raise BlobNotFoundError("not a blob file")
        kid_len = raw[4]
        kid = raw[5 : 5 + kid_len].decode()
        nonce = raw[5 + kid_len : 17 + kid_len]
        key = self._keys.get(kid)
        if key is None:
            raise BlobNotFoundError(f"no key with id {kid!r}")
        try:
            return AESGCM(key).decrypt(nonce, raw[17 + kid_len :], blob_id.encode())
        except InvalidTag:
            raise BlobNotFoundError("blob failed authentication") from None

    def delete(self, blob_id: str) -> None:
        self._path(blob_id).unlink(missing_ok=True)
        self._path(blob_id).with_suffix(".tmp").unlink(missing_ok=True)

    def ids_older_than(self, cutoff: datetime) -> Iterator[str]:
        limit = cutoff.timestamp()
        for folder in sorted(self._root.iterdir()):
            if not folder.is_dir() or len(folder.name) != 2:
                continue
            for path in sorted(folder.iterdir()):
                blob_id = path.name.removesuffix(".tmp")
                if _BLOB_ID.fullmatch(blob_id) and blob_id[:2] == folder.name:
                    with contextlib.suppress(FileNotFoundError):
                        if path.stat().st_mtime < limit:
                            yield blob_id
