"""Who may read the operator endpoints: the API's ``/metrics`` and API documents, and a worker's
``/metrics``. With ``admin.token`` set, a request must carry it (``Authorization: Bearer <token>``,
or HTTP Basic with the token as the password so a browser asks once); without it they are open in
development and test and answer 404 elsewhere, so a production deployment never publishes its
per-reason counts by accident."""

from __future__ import annotations

import base64
import binascii
import hmac

from facematch.config import Settings

#: the challenge of a refusal (a browser then asks for the token as a password)
CHALLENGE = b'Basic realm="facematch admin"'


def admin_token(settings: Settings) -> bytes | None:
    return settings.admin.token.get_secret_value().encode() if settings.admin.token else None


def open_without_token(settings: Settings) -> bool:
    """Whether the operator endpoints are open while no token is set (development and test)."""
    return settings.development or settings.environment == "test"


def authorized(header: bytes, token: bytes) -> bool:
    """Whether an ``Authorization`` header value carries ``token`` (compared in constant time)."""
    scheme, _, value = header.partition(b" ")
    if scheme.lower() == b"bearer":
        return hmac.compare_digest(value.strip(), token)
    if scheme.lower() == b"basic":
        try:
            _, _, password = base64.b64decode(value.strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(password, token)
    return False
