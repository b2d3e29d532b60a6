"""Small secrets sealed for a database column: AES-256-GCM with a key id, bound to a context.

``seal`` gives ``v1.<key id>.<base64 nonce + ciphertext + tag>``; the context (e.g. the operator id)
is the associated data, so a sealed value copied to another row does not open. The keys are the
blob store's (current and previous by id), so one key rotation covers images and these secrets.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from facematch.errors import FacematchError

_VERSION = "v1"


class SealedValueError(FacematchError):
    """A sealed value is malformed, or no configured key opens it."""

    code = "SEALED_VALUE_ERROR"


class SecretBox:
    """Seals with the current key; opens with any known key id."""

    def __init__(self, *, key: bytes, key_id: str, previous: Mapping[str, bytes] | None = None) -> None:
        if "." in key_id:
            raise SealedValueError("a key id may not contain '.'")
        self._key_id = key_id
        self._keys = {**(previous or {}), key_id: key}

    def seal(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self._keys[self._key_id]).encrypt(nonce, plaintext.encode(), context.encode())
        return f"{_VERSION}.{self._key_id}.{base64.b64encode(nonce + sealed).decode('ascii')}"

    def open(self, value: str, *, context: str) -> str:
        version, _, rest = value.partition(".")
        key_id, _, payload = rest.partition(".")
        key = self._keys.get(key_id)
        if version != _VERSION or key is None:
            raise SealedValueError("unknown sealed value format or key id")
        try:
            raw = base64.b64decode(payload, validate=True)
            return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (binascii.Error, ValueError, InvalidTag):
            raise SealedValueError("the sealed value does not open") from None
