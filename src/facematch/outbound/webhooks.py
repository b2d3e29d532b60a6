"""Completion callbacks as Standard Webhooks 1.0: signing, headers, one delivery attempt, the schedule.

The outbox (storage) decides when to call :func:`deliver_once`; this module sends one signed
attempt and classifies its outcome, and :func:`next_attempt_delay` says how long to wait before the
next one. The same ``webhook-id`` is used on every attempt of one message so receivers can
de-duplicate; the timestamp and signature are fresh on each attempt (receivers reject stale
timestamps). The payload bytes are sent exactly as given.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import enum
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from facematch.errors import (
    DestinationNotAllowedError,
    FetchConnectionError,
    FetchTimeoutError,
    OutboundRequestError,
    UpstreamStatusError,
)
from facematch.outbound.safe_http import FetchPolicy, Resolver, check_header, request
from facematch.outbound.urls import UrlPolicy

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks marker, not a secret
CALLBACK_TIMEOUT_SECONDS = 15.0

RETRY_SCHEDULE: tuple[int, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
"""Delay in seconds before the next attempt, indexed by attempts made so far (the first attempt is
immediate); eight attempts over about 28 hours, after which the message is dead-lettered."""

MAX_RETRY_AFTER_SECONDS = 36000.0
"""A receiver's Retry-After is honoured up to this (the longest scheduled gap)."""

CALLBACK_METHODS = frozenset({"POST", "PUT", "PATCH"})

_MSG_ID = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
#: Header names a partner's auth header may not take: they carry the signature or the framing.
_PROTECTED_HEADERS = frozenset(
    {"webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "host", "content-length"}
)


class Outcome(enum.StrEnum):
    """What one delivery attempt means for the message."""

    DELIVERED = "DELIVERED"
    """2xx: done."""
    RETRY = "RETRY"
    """Timeout, connection error, 3xx, 4xx other than 410, 429, 5xx: try again on the schedule."""
    GONE = "GONE"
    """410: stop, and mark the endpoint as gone until the partner sets it again."""
    FAILED = "FAILED"
    """The URL is refused by policy (scheme, address): retrying cannot help; dead-letter it."""


@dataclass(frozen=True)
class DeliveryOutcome:
    """The result of one delivery attempt, for the delivery log and the outbox state."""

    outcome: Outcome
    status_code: int | None
    retry_after_seconds: float | None
    error: str | None
    """A short description safe to log and to show the partner; never the receiver's body."""
    timestamp: int
    """The ``webhook-timestamp`` that was signed and sent."""


def generate_secret() -> str:
    """A new per-partner signing secret, ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _secret_key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("webhook secret must be whsec_ followed by base64") from None
    if len(key) < 16:
        raise ValueError("webhook secret is too short")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``."""
    if not _MSG_ID.match(msg_id):
        raise ValueError("msg_id must be 1-128 characters of A-Z a-z 0-9 _ -")
    signed = f"{msg_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(_secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def check_callback_header(name: str, value: str) -> None:
    """``ValueError`` unless a partner's callback header can be sent: a valid header (see
    :func:`~facematch.outbound.safe_http.check_header`) that does not replace a webhook header."""
    if name.strip().lower() in _PROTECTED_HEADERS:
        raise ValueError(f"a callback header may not be {name!r}")
    check_header(name, value)


def auth_header_fields(value: str) -> tuple[str, str]:
    """The name and value of a partner's ``"Header-Name: value"`` callback auth header;
    ``ValueError`` when it cannot be sent."""
    name, colon, header_value = value.partition(":")
    if not colon:
        raise ValueError("expected 'Header-Name: value'")
    name, header_value = name.strip(), header_value.strip()
    check_callback_header(name, header_value)
    return name, header_value


def build_headers(
    *,
    secret: str,
    msg_id: str,
    timestamp: int,
    body: bytes,
    extra_headers: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Standard Webhooks headers for one attempt, plus the partner's optional headers (auth).

    ``extra_headers`` come from the partner's callback settings (e.g. ``Authorization``); one that
    would replace a webhook header or ``content-type`` is a ``ValueError``.
    """
    headers: dict[str, str] = {}
    for name, value in (extra_headers or {}).items():
        check_callback_header(name, value)
        headers[name] = value
    headers.update(
        {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(timestamp)),
            "webhook-signature": sign(secret, msg_id, timestamp, body),
            "content-type": "application/json",
        }
    )
    return headers


def callback_policy(urls: UrlPolicy) -> FetchPolicy:
    """The fetch policy for callbacks under the deployment's URL rules: any public host (the URL is
    ours, not the partner's request), ≈15 s, tiny responses."""
    return FetchPolicy(
        allowed_hosts=None,
        urls=urls,
        connect_timeout=3.0,
        total_timeout=CALLBACK_TIMEOUT_SECONDS,
        max_bytes=64 * 1024,
    )


def deliver_once(
    url: str,
    method: str,
    body: bytes,
    msg_id: str,
    secret: str,
    *,
    policy: FetchPolicy,
    extra_headers: Mapping[str, str] | None = None,
    now: Callable[[], float] = time.time,
    resolver: Resolver | None = None,
) -> DeliveryOutcome:
    """Send one signed attempt of a callback and classify the result; never raises for the network.

    ``method`` is POST, PUT or PATCH. ``extra_headers`` (the partner's auth header) are sent as
    well but cannot replace the webhook headers. ``now`` is the clock used for ``webhook-timestamp``
    and for Retry-After dates. Raises ``ValueError`` only for programming errors (bad method, id,
    secret or headers).
    """
    method = method.upper()
    if method not in CALLBACK_METHODS:
        raise ValueError(f"callback method must be POST, PUT or PATCH, not {method}")
    timestamp = int(now())
    headers = build_headers(
        secret=secret, msg_id=msg_id, timestamp=timestamp, body=body, extra_headers=extra_headers
    )
    try:
        response = request(
            method, url, policy=policy, headers=headers, content=body, read_body=False, resolver=resolver
        )
    except DestinationNotAllowedError as exc:
        return DeliveryOutcome(Outcome.FAILED, None, None, str(exc), timestamp)
    except UpstreamStatusError as exc:  # a 3xx: never followed, counted as a failed attempt
        return DeliveryOutcome(
            Outcome.RETRY, exc.status, None, f"redirect (HTTP {exc.status}) not followed", timestamp
        )
    except FetchTimeoutError:
        return DeliveryOutcome(Outcome.RETRY, None, None, "timeout", timestamp)
    except FetchConnectionError:
        return DeliveryOutcome(Outcome.RETRY, None, None, "connection failed", timestamp)
    except OutboundRequestError as exc:
        return DeliveryOutcome(Outcome.RETRY, None, None, exc.code, timestamp)
    status = response.status
    if 200 <= status < 300:
        return DeliveryOutcome(Outcome.DELIVERED, status, None, None, timestamp)
    if status == 410:
        return DeliveryOutcome(Outcome.GONE, status, None, "HTTP 410: endpoint gone", timestamp)
    retry_after = parse_retry_after(response.headers.get("retry-after"), now=now())
    return DeliveryOutcome(Outcome.RETRY, status, retry_after, f"HTTP {status}", timestamp)


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date); None when unusable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None  # HTTP-dates are GMT; a date without a zone is not one
    return max(0.0, when.timestamp() - now)


def next_attempt_delay(attempts_made: int, retry_after: float | None = None) -> float | None:
    """Seconds until the next attempt after ``attempts_made`` attempts; None: schedule exhausted.

    A receiver's Retry-After can push an attempt later (up to :data:`MAX_RETRY_AFTER_SECONDS`), never
    earlier than the schedule. None means the message goes to the dead letter (resend by hand).
    """
    if attempts_made < 0:
        raise ValueError("attempts_made must not be negative")
    if attempts_made >= len(RETRY_SCHEDULE):
        return None
    delay = float(RETRY_SCHEDULE[attempts_made])
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER_SECONDS))
    return delay
