"""Fetch a partner's reference image from its ``referenceImageUrl``, safely.

The request goes through :mod:`facematch.outbound.safe_http` (allowlisted hosts, public addresses only,
pinned IP, no redirects, deadlines, byte cap). A body is accepted when it is an ``image/*`` response
whose bytes really are an image, or JSON ``{"image": "<base64>"}`` (a ``data:image/...;base64,``
prefix is tolerated). Server errors, timeouts and connection failures are retried with exponential
backoff and jitter; client errors are not. Every failure is a
:class:`~facematch.errors.ReferenceFetchError` with a stable ``kind``; the partner's body is never
carried in it.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import random
import re
import time
from collections.abc import Callable, Mapping

from facematch.engine.images import sniff_format
from facematch.errors import (
    DestinationNotAllowedError,
    FetchConnectionError,
    FetchTimeoutError,
    OutboundRequestError,
    ReferenceConnectionError,
    ReferenceFetchError,
    ReferenceNotAllowedError,
    ReferenceNotAnImageError,
    ReferenceStatusError,
    ReferenceTimeoutError,
    ReferenceTooLargeError,
    ResponseTooLargeError,
    UpstreamStatusError,
)
from facematch.outbound.safe_http import FetchPolicy, Resolver, request

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 0.5
"""First retry waits 0.5-1 s, then 1-2 s, then 2-4 s."""

_DATA_URL = re.compile(r"^data:image/[a-z0-9.+-]+(?:;[a-z0-9=.+-]+)*;base64,", re.IGNORECASE)
_URLSAFE_B64 = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")
_JSON_TYPES = ("application/json", "text/json")
_jitter = random.SystemRandom()


def fetch_reference_image(
    url: str,
    *,
    headers: Mapping[str, str],
    policy: FetchPolicy,
    retries: int = 3,
    sleep: Callable[[float], None] = time.sleep,
    resolver: Resolver | None = None,
) -> bytes:
    """GET the reference image at ``url`` and return its bytes (JPEG, PNG, WebP or HEIC).

    ``headers`` are the partner's static headers plus ``x-partner-session-id``,
    ``x-partner-user-id`` and ``x-partner-user-id-type``. ``retries`` is how many times a 5xx,
    timeout or connection failure is retried after the first attempt; 4xx and policy refusals are
    final. ``sleep`` and ``resolver`` are injectable for tests. Raises a
    :class:`~facematch.errors.ReferenceFetchError` subclass.
    """
    if retries < 0:
        raise ValueError("retries must not be negative")
    attempt = 0
    while True:
        try:
            response = request("GET", url, policy=policy, headers=headers, resolver=resolver)
        except DestinationNotAllowedError as exc:
            raise ReferenceNotAllowedError(str(exc)) from exc
        except ResponseTooLargeError as exc:
            raise ReferenceTooLargeError(str(exc)) from exc
        except UpstreamStatusError as exc:  # a redirect: never followed
            raise ReferenceStatusError(exc.status) from exc
        except (FetchTimeoutError, FetchConnectionError) as exc:
            failure: ReferenceFetchError = (
                ReferenceTimeoutError(str(exc))
                if isinstance(exc, FetchTimeoutError)
                else ReferenceConnectionError(str(exc))
            )
            failure.__cause__ = exc
        except OutboundRequestError as exc:
            raise ReferenceConnectionError(str(exc)) from exc
        else:
            if response.status < 500:
                if not 200 <= response.status < 300:
                    raise ReferenceStatusError(response.status)
                return _image_from_body(response.content_type, response.body)
            failure = ReferenceStatusError(response.status)
        if attempt >= retries:
            raise failure
        attempt += 1
        delay = _backoff(attempt)
        log.info("reference image fetch failed (%s); retry %d in %.1f s", failure.kind, attempt, delay)
        sleep(delay)


def _backoff(attempt: int) -> float:
    base = BACKOFF_BASE_SECONDS * 2.0 ** (attempt - 1)
    # Jitter keeps many sessions for one partner from retrying in lockstep.
    return base + _jitter.uniform(0, base)


def _image_from_body(content_type: str, body: bytes) -> bytes:
    """The image bytes of a successful response, or :class:`ReferenceNotAnImageError`."""
    if content_type.startswith("image/"):
        image = body
    elif content_type in _JSON_TYPES or content_type.endswith("+json"):
        image = _image_from_json(body)
    else:
        raise ReferenceNotAnImageError("the reference response is not an image")
    if not image or sniff_format(image) is None:
        # Checked on the bytes, not the header: HTML served as image/jpeg is refused here.
        raise ReferenceNotAnImageError("the reference response is not an image")
    return image


def _image_from_json(body: bytes) -> bytes:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: deeply nested arrays
        raise ReferenceNotAnImageError("the reference response is not valid JSON") from None
    encoded = document.get("image") if isinstance(document, dict) else None
    if not isinstance(encoded, str):
        raise ReferenceNotAnImageError('the reference JSON has no "image" string')
    try:
        return decode_base64_image(encoded)
    except ValueError:
        raise ReferenceNotAnImageError('the reference JSON "image" is not base64') from None


def decode_base64_image(text: str) -> bytes:
    """The bytes of an image sent as base64 text, in the forms partners send: standard or URL-safe
    alphabet, with or without padding, line-wrapped (MIME style), with or without a
    ``data:image/...;base64,`` prefix. ``ValueError`` for anything else."""
    encoded = _DATA_URL.sub("", text.strip(), count=1)
    encoded = "".join(encoded.split())
    encoded += "=" * (-len(encoded) % 4)
    try:
        if _URLSAFE_B64.match(encoded) and ("-" in encoded or "_" in encoded):
            return base64.urlsafe_b64decode(encoded)
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None
