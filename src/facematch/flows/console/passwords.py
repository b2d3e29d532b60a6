"""Operator passwords: the policy (NIST SP 800-63B: long enough, not the e-mail), generation, and
argon2id hashing (RFC 9106 low-memory parameters: 64 MiB, 3 passes, 4 lanes).

At most :data:`MAX_CONCURRENT_HASHES` hashes run at once in a process, so a burst of logins cannot
take the machine's memory; a login that finds no free slot soon is answered at once instead of
queueing behind the burst (:class:`~facematch.errors.ServiceBusyError`).
"""

from __future__ import annotations

import functools
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import argon2

from facematch.errors import InvalidFieldError, ServiceBusyError

MIN_PASSWORD = 12
MAX_PASSWORD = 128
MAX_CONCURRENT_HASHES = 2
#: how long a login waits for a free hash slot before it is told to come back
HASH_WAIT_S = 5.0
_HASHER = argon2.PasswordHasher()
_hash_slots = threading.BoundedSemaphore(MAX_CONCURRENT_HASHES)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so both cases cost the same (made at the first
    login that needs it, not at import: every process imports this module)."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def check_policy(password: str, email: str) -> None:
    """Long enough, not the e-mail; no composition rules."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidFieldError(
            "password", f"the password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long"
        )
    if password.strip().lower() in (email, email.split("@", 1)[0]):
        raise InvalidFieldError("password", "the password may not be the e-mail address")


def generate() -> str:
    return secrets.token_urlsafe(15)


def hash_password(password: str) -> str:
    with _slot():
        return _HASHER.hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    """Constant-shape check: an unknown operator (``stored_hash`` None) costs one hash too."""
    with _slot():
        try:
            return _HASHER.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False


@contextmanager
def _slot() -> Iterator[None]:
    if not _hash_slots.acquire(timeout=HASH_WAIT_S):
        raise ServiceBusyError(retry_after_s=2)
    try:
        yield
    finally:
        _hash_slots.release()
