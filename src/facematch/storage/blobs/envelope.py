"""The sealed form of a blob, the same in every backend.

``FMB1`` | key-id length (1 byte) | key id | 12-byte nonce | AES-256-GCM ciphertext and tag. The blob
id is the associated data, so a sealed blob copied under another id does not open; the key id names
the key it was sealed with, so keys can be rotated while older blobs still open.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from facematch.errors import BlobKeyError, BlobNotFoundError

MAGIC = b"FMB1"
_NONCE = 12
_TAG = 16


class BlobCipher:
    """Seals with the current key; opens with the current or any previous key (by id)."""

    def __init__(self, *, key: bytes, key_id: str, previous: Mapping[str, bytes] | None = None) -> None:
        if not 0 < len(key_id.encode()) < 256:
            raise BlobKeyError("key id must be 1..255 bytes")
        self._key_id = key_id
        self._keys = {kid: AESGCM(value) for kid, value in {**(previous or {}), key_id: key}.items()}

    def seal(self, blob_id: str, data: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        kid = self._key_id.encode()
        sealed = self._keys[self._key_id].encrypt(nonce, data, blob_id.encode())
        return MAGIC + bytes([len(kid)]) + kid + nonce + sealed

    def open(self, blob_id: str, raw: bytes) -> bytes:
        """The plaintext of a sealed blob; BlobNotFoundError when it is not one, was sealed with a key
        we do not have, was altered, or belongs to another id."""
        if len(raw) < len(MAGIC) + 1 or raw[: len(MAGIC)] != MAGIC:
            raise BlobNotFoundError("not a sealed blob")
        start = len(MAGIC) + 1
        kid_end = start + raw[len(MAGIC)]
        if len(raw) < kid_end + _NONCE + _TAG:
            raise BlobNotFoundError("not a sealed blob")
        kid = raw[start:kid_end].decode(errors="replace")
        aead = self._keys.get(kid)
        if aead is None:
            raise BlobNotFoundError(f"no key with id {kid!r}")
        nonce = raw[kid_end : kid_end + _NONCE]
        try:
            return aead.decrypt(nonce, raw[kid_end + _NONCE :], blob_id.encode())
        except InvalidTag:
            raise BlobNotFoundError("blob failed authentication") from None
