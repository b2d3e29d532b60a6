"""Partner secrets sealed at rest: webhook signing secrets, callback auth headers, reference headers.

The same key scheme as the image store (``FACEMATCH_BLOBS__KEY``, ``__KEY_ID``, ``__PREVIOUS_KEYS``),
with a sub-key derived per key id (HKDF-SHA256, its own ``info``) so that no key serves two
purposes. A sealed value is text: ``fms1:<key id>:<base64(nonce | ciphertext+tag)>``; what it
belongs to (the partner id and the field) is the associated data, so a value copied into another
row or field does not open.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from facematch.errors import FacematchError

_PREFIX = "fms1"
_INFO = b"facematch partner secrets v1"


class SealedValueError(FacematchError):
    """A sealed value is malformed, was sealed with an unknown key, or fails authentication."""

    code = "SEALED_VALUE_ERROR"


def _subkey(key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(key)


class SecretBox:
    """Seals with the current key; opens with the current or any previous key (by id)."""

    def __init__(self, *, key: bytes, key_id: str, previous: Mapping[str, bytes] | None = None) -> None:
        if not key_id or ":" in key_id:
            raise SealedValueError("a key id must be non-empty and contain no ':'")
        self.key_id = key_id
        self._keys = {kid: AESGCM(_subkey(value)) for kid, value in {**(previous or {}), key_id: key}.items()}

    def seal(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self.key_id].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{_PREFIX}:{self.key_id}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, value: str, *, context: str) -> str:
        prefix, _, rest = value.partition(":")
        kid, _, body = rest.partition(":")
        if prefix != _PREFIX or not body:
            raise SealedValueError("not a sealed value")
        aead = self._keys.get(kid)
        if aead is None:
            raise SealedValueError(f"no key with id {kid!r}")
        try:
            raw = base64.b64decode(body, validate=True)
            return aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (binascii.Error, ValueError, InvalidTag):
            raise SealedValueError("the sealed value does not open") from None

    def key_id_of(self, value: str) -> str:
        """The id of the key ``value`` was sealed with (for re-sealing after a rotation)."""
        return value.split(":", 2)[1] if value.count(":") >= 2 else ""
