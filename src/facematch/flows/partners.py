"""Partners: creation, pass-keys (≥128-bit, shown once, stored hashed, constant-time compare),
rotation with an overlap window, per-partner settings, and authentication by client-id + pass-key."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from facematch.errors import InvalidFieldError, UnauthorizedError
from facematch.flows import safe_http, webhooks
from facematch.flows.throttle import AuthThrottle
from facematch.storage import repo
from facematch.storage.models import Partner, utcnow

_ORIGIN = re.compile(
    r"(?P<scheme>https?)://(?P<host>\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(?P<port>[0-9]{1,5}))?/?",
    re.IGNORECASE,
)
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def hash_passkey(passkey: str) -> str:
    # pass-keys are 192 random bits, so a fast hash is enough (no dictionary to attack)
    return hashlib.sha256(passkey.encode()).hexdigest()


def new_passkey() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True, slots=True)
class PartnerOptions:
    """Per-partner settings an operator can set (None: leave unchanged)."""

    onboarding_partners: list[str] | None = None
    reference_hosts: list[str] | None = None
    reference_headers: dict[str, str] | None = None
    frame_origins: list[str] | None = None
    max_attempts: int | None = None
    show_status_screen: bool | None = None
    allow_qr: bool | None = None
    force_qr: bool | None = None
    privacy_url: str | None = None
    """The partner's privacy policy, linked from the consent screen ("" clears it)."""
    sandbox: bool | None = None
    auto_capture: bool | None = None
    retry_window_s: int | None = None


#: Longest retry window: a week (an abandoned session becomes final after the window).
MAX_RETRY_WINDOW_S = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class NewPartner:
    partner: Partner
    passkey: str
    webhook_secret: str


def create_partner(
    name: str, options: PartnerOptions, *, session: Session, default_max_attempts: int = 3
) -> NewPartner:
    """Create a partner; the returned pass-key is the only time it exists in clear."""
    passkey = new_passkey()
    secret = webhooks.generate_secret()
    partner = Partner(
        id=str(uuid.uuid4()),
        client_id=str(uuid.uuid4()),
        name=name,
        passkey_hash=hash_passkey(passkey),
        webhook_secret=secret,
        max_attempts=default_max_attempts,
        onboarding_partners=[],
        reference_hosts=[],
        reference_headers={},
        frame_origins=[],
    )
    apply_options(partner, options)
    session.add(partner)
    session.flush()
    return NewPartner(partner=partner, passkey=passkey, webhook_secret=secret)


def apply_options(partner: Partner, options: PartnerOptions) -> None:
    """Validate and apply the given settings."""
    if options.onboarding_partners is not None:
        partner.onboarding_partners = [v.strip() for v in options.onboarding_partners if v.strip()]
    if options.reference_hosts is not None:
        partner.reference_hosts = [h.strip().lower() for h in options.reference_hosts if h.strip()]
    if options.reference_headers is not None:
        for name, value in options.reference_headers.items():
            try:
                safe_http.check_header(name, value)
            except ValueError as error:
                raise InvalidFieldError("reference-headers", str(error)) from None
        partner.reference_headers = dict(options.reference_headers)
    if options.frame_origins is not None:
        partner.frame_origins = [frame_origin(origin) for origin in options.frame_origins]
    if options.max_attempts is not None:
        if not 1 <= options.max_attempts <= 20:
            raise InvalidFieldError("max-attempts", "max attempts must be 1..20")
        partner.max_attempts = options.max_attempts
    if options.show_status_screen is not None:
        partner.show_status_screen = options.show_status_screen
    if options.allow_qr is not None:
        partner.allow_qr = options.allow_qr
    if options.force_qr is not None:
        partner.force_qr = options.force_qr
    _apply_flow_options(partner, options)


def _apply_flow_options(partner: Partner, options: PartnerOptions) -> None:
    """The hosted-flow and sandbox settings: privacy policy link, sandbox, auto-capture, retry window."""
    if options.privacy_url is not None:
        partner.privacy_url = _public_url("privacy-url", options.privacy_url) if options.privacy_url else None
    if options.sandbox is not None:
        partner.sandbox = options.sandbox
    if options.auto_capture is not None:
        partner.auto_capture = options.auto_capture
    if options.retry_window_s is not None:
        if not 0 < options.retry_window_s <= MAX_RETRY_WINDOW_S:
            raise InvalidFieldError("retry-window-s", f"the retry window must be 1..{MAX_RETRY_WINDOW_S} s")
        partner.retry_window_s = options.retry_window_s


def _public_url(name: str, url: str) -> str:
    """An http(s) URL without credentials (a link or an endpoint we are given), or InvalidFieldError."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port raises ValueError for a bad one
    except ValueError:
        parts = None
    if (
        parts is None
        or len(url) > 2000
        or parts.scheme not in ("https", "http")
        or not parts.hostname
        or parts.username
        or parts.password
    ):
        raise InvalidFieldError(
            name, f"the {name.replace('-', ' ')} must be an http(s) URL without credentials"
        )
    return url


def frame_origin(value: str) -> str:
    """An origin allowed to frame the web app, as it goes into the CSP's ``frame-ancestors``:
    ``http(s)://host[:port]`` (a trailing ``/`` is dropped), the host a DNS name or an IP literal.
    Anything else (a path, query, space, ``;``, ``*``, credentials) could widen or rewrite the policy."""
    match = _ORIGIN.fullmatch(value)
    port = int(match["port"]) if match and match["port"] else None
    if match is None or not _origin_host_ok(match["host"]) or (port is not None and not 0 < port < 65536):
        raise InvalidFieldError("frame-origin", f"not an origin (http(s)://host[:port]): {value!r}")
    return f"{match['scheme'].lower()}://{match['host'].lower()}" + ("" if port is None else f":{port}")


def _origin_host_ok(host: str) -> bool:
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    labels = host.split(".")
    if labels[-1].isdigit():  # all-numeric last label: only a canonical dotted IPv4 address
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
        return True
    return len(host) <= 253 and all(_LABEL.fullmatch(label) for label in labels)


def rotate_passkey(partner: Partner, *, overlap_s: int) -> str:
    """A new pass-key; the old one stays valid for ``overlap_s`` seconds (0: revoked now)."""
    passkey = new_passkey()
    if overlap_s > 0:
        partner.previous_passkey_hash = partner.passkey_hash
        partner.previous_passkey_expires_at = utcnow() + timedelta(seconds=overlap_s)
    else:
        partner.previous_passkey_hash = None
        partner.previous_passkey_expires_at = None
    partner.passkey_hash = hash_passkey(passkey)
    return passkey


def set_callback(
    partner: Partner, url: str | None, *, method: str = "POST", auth_header: str | None = None
) -> None:
    """Set (or clear, with None) the completion callback endpoint."""
    if url is not None:
        _public_url("callback-url", url)
    if method.upper() not in webhooks.CALLBACK_METHODS:
        raise InvalidFieldError("callback-method", "the callback method must be POST, PUT or PATCH")
    if auth_header is not None:
        try:
            webhooks.auth_header_fields(auth_header)
        except ValueError as error:
            raise InvalidFieldError("callback-auth-header", str(error)) from None
    partner.callback_url = url
    partner.callback_method = method.upper()
    partner.callback_auth_header = auth_header
    partner.callback_gone_at = None


def authenticate(
    client_id: str, passkey: str, source: str, *, session: Session, throttle: AuthThrottle
) -> Partner:
    """The enabled partner whose pass-key (current, or previous within its overlap) matches."""
    throttle.check(client_id, source)
    partner = repo.partner_by_client_id(client_id, session=session)
    offered = hash_passkey(passkey)
    valid = False
    if partner is not None and not partner.disabled:
        valid = hmac.compare_digest(offered, partner.passkey_hash)
        previous = partner.previous_passkey_hash
        expires = partner.previous_passkey_expires_at
        if not valid and previous and expires and expires > utcnow():
            valid = hmac.compare_digest(offered, previous)
    else:
        hmac.compare_digest(offered, offered)  # same work whether or not the client exists
    if not valid or partner is None:
        throttle.failed(client_id, source)
        raise UnauthorizedError("client-id or pass-key is wrong")
    throttle.succeeded(client_id, source)
    return partner


def describe(partner: Partner) -> dict[str, object]:
    """Everything about a partner an operator may see (no pass-key, no webhook secret)."""
    return {
        "id": partner.id,
        "clientId": partner.client_id,
        "name": partner.name,
        "disabled": partner.disabled,
        "onboardingPartners": partner.onboarding_partners,
        "callback": {
            "url": partner.callback_url,
            "method": partner.callback_method,
            "authHeader": partner.callback_auth_header.split(":", 1)[0]
            if partner.callback_auth_header
            else None,
            "goneAt": partner.callback_gone_at.isoformat() if partner.callback_gone_at else None,
        },
        "referenceHosts": partner.reference_hosts,
        "referenceHeaders": sorted(partner.reference_headers),
        "frameOrigins": partner.frame_origins,
        "maxAttempts": partner.max_attempts,
        "showStatusScreen": partner.show_status_screen,
        "allowQr": partner.allow_qr,
        "forceQr": partner.force_qr,
        "privacyUrl": partner.privacy_url,
        "sandbox": partner.sandbox,
        "autoCapture": partner.auto_capture,
        "retryWindowS": partner.retry_window_s,
        "previousPasskeyValidUntil": (
            partner.previous_passkey_expires_at.isoformat() if partner.previous_passkey_expires_at else None
        ),
        "createdAt": partner.created_at.isoformat(),
    }
