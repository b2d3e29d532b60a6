"""Signed tokens (HS256 JWTs) and the two token-gateway use cases.

Every token carries ``iss``, ``aud`` = ``facematch:<kind>``, ``sub``, ``iat`` and ``exp``; verification
names the one kind it accepts, so a user token cannot call a partner endpoint, an upload URL cannot
read an image, and so on. Only HS256 is accepted (``alg: none`` and key-confusion tricks fail), and
only a header of ``alg`` and ``typ``: a token naming a key (``kid``, ``jku``, ``jwk``, ``x5u``) is
refused even when signed with ours.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt

from facematch.errors import FacematchError, TokenExpiredError, UnauthorizedError

log = logging.getLogger(__name__)

ISSUER = "facematch"
_ALGORITHM = "HS256"
#: the header fields our tokens carry (no other is accepted)
_HEADER_FIELDS = frozenset({"alg", "typ"})


class TokenKeyError(FacematchError):
    """The token signing key is missing or too short."""

    code = "TOKEN_KEY_ERROR"


class TokenKind(StrEnum):
    PARTNER = "partner"
    USER = "user"
    LAUNCH = "launch"
    UPLOAD = "upload"
    IMAGE = "image"
    CONSOLE_IMAGE = "console-image"
    """An image URL of the operator console, bound to one operator session."""
    CONSOLE_LOGIN = "console-login"
    """The login form's CSRF token, bound to a nonce cookie of the browser that loaded it."""
    CONSOLE_DEVICE = "console-device"
    """A browser that completed a login to one operator account (its device cookie)."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expiry_seconds: int
    expires_at: int


def load_or_create_secret(path: Path) -> bytes:
    """Development only: read the signing key at ``path`` or generate one there (0600)."""
    if path.is_file():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48).encode()
    path.touch(mode=0o600, exist_ok=False)
    path.write_bytes(secret)
    log.warning(
        "generated a development token key at %s; set FACEMATCH_TOKENS__SECRET outside development", path
    )
    return secret


class TokenService:
    """Issues and verifies every kind of token with one HMAC key."""

    def __init__(self, secret: bytes, *, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < 32:
            raise TokenKeyError("the token secret must be at least 32 bytes")
        self._secret = secret
        self._clock = clock

    def issue(self, kind: TokenKind, subject: str, ttl_s: int, **claims: Any) -> IssuedToken:
        now = int(self._clock())
        payload = {
            **claims,
            "iss": ISSUER,
            "aud": f"{ISSUER}:{kind.value}",
            "sub": subject,
            "iat": now,
            "exp": now + ttl_s,
            "jti": secrets.token_hex(8),
        }
        token = jwt.encode(payload, self._secret, algorithm=_ALGORITHM, headers={"typ": "JWT"})
        return IssuedToken(token=token, expiry_seconds=ttl_s, expires_at=now + ttl_s)

    def verify(self, token: str | None, kind: TokenKind) -> dict[str, Any]:
        """The claims of a valid token of ``kind``; anything else raises UnauthorizedError."""
        if not token:
            raise UnauthorizedError("token missing")
        try:
            claims = self._decode(token, kind, verify_exp=False)
        except jwt.PyJWTError:
            raise UnauthorizedError("token invalid") from None
        if claims["aud"] != f"{ISSUER}:{kind.value}":
            # PyJWT accepts a list that contains the audience; ours are never lists
            raise UnauthorizedError("token invalid")
        if not isinstance(claims["exp"], int):
            raise UnauthorizedError("token invalid")
        if claims["exp"] <= self._clock():
            raise TokenExpiredError("token expired")  # ours and of this kind, but too old
        return claims

    def claims_if_signed(self, token: str | None, kind: TokenKind) -> dict[str, Any] | None:
        """The claims of a token of ``kind`` that we signed, expired or not; None otherwise. Only for
        telling a user where to go back to: it never authorises anything."""
        if not token:
            return None
        try:
            return self._decode(token, kind, verify_exp=False)
        except jwt.PyJWTError:
            return None

    def _decode(self, token: str, kind: TokenKind, *, verify_exp: bool) -> dict[str, Any]:
        # our tokens' header is exactly {alg, typ}: one that names a key (kid, jku, jwk, x5u, ...)
        # or anything else was not made here, whatever key it was signed with
        if set(jwt.get_unverified_header(token)) - _HEADER_FIELDS:
            raise jwt.InvalidTokenError("unexpected header field")
        claims: dict[str, Any] = jwt.decode(
            token,
            self._secret,
            algorithms=[_ALGORITHM],
            audience=f"{ISSUER}:{kind.value}",
            issuer=ISSUER,
            options={"require": ["exp", "iat", "aud", "iss", "sub"], "verify_exp": verify_exp},
            leeway=0,
        )
        return claims
