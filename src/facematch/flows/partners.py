"""Partners: creation, pass-keys (≥128-bit, shown once, stored hashed, constant-time compare),
rotation with an overlap window, per-partner settings, and authentication by client-id + pass-key.

Secrets (the webhook signing secret, the callback auth header's value, the reference headers'
values) are stored sealed (:mod:`facematch.storage.sealed`); only this module seals and opens them.
Every token minted for a partner carries its ``token_generation``: a rotation or a disable raises
it, and :func:`token_is_current` refuses older generations (the previous one for as long as the
previous pass-key lives).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from facematch.errors import DestinationNotAllowedError, InvalidFieldError, UnauthorizedError
from facematch.outbound import safe_http, webhooks
from facematch.outbound.urls import UrlPolicy
from facematch.rules import partner_settings
from facematch.rules.states import LivenessMode
from facematch.security.throttle import AuthThrottle
from facematch.storage import partner_repo
from facematch.storage.models import Partner, utcnow
from facematch.storage.sealed import SecretBox


def hash_passkey(passkey: str) -> str:
    # pass-keys are 192 random bits, so a fast hash is enough (no dictionary to attack)
    return hashlib.sha256(passkey.encode()).hexdigest()


def new_passkey() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True, slots=True)
class PartnerOptions:
    """Settings to apply (None: leave as it is). The plain switches and numbers are the rows of
    :data:`facematch.rules.partner_settings.SETTINGS` (a test keeps the two in step)."""

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
    liveness: str | None = None
    """``off`` or ``active`` (:class:`~facematch.rules.states.LivenessMode`)."""


#: Longest retry window: a week (an abandoned session becomes final after the window).
MAX_RETRY_WINDOW_S = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class NewPartner:
    partner: Partner
    passkey: str
    webhook_secret: str


def _context(partner: Partner, field: str) -> str:
    return f"partner:{partner.id}:{field}"


def create_partner(
    name: str, options: PartnerOptions, *, session: Session, box: SecretBox, default_max_attempts: int = 3
) -> NewPartner:
    """Create a partner; the returned pass-key is the only time it exists in clear."""
    passkey = new_passkey()
    partner = Partner(
        id=str(uuid.uuid4()),
        client_id=str(uuid.uuid4()),
        name=name,
        passkey_hash=hash_passkey(passkey),
        token_generation=1,
        max_attempts=default_max_attempts,
        onboarding_partners=[],
        reference_hosts=[],
        reference_header_names=[],
        frame_origins=[],
    )
    secret = new_webhook_secret(partner, box=box)
    apply_options(partner, options, box=box)
    session.add(partner)
    session.flush()
    return NewPartner(partner=partner, passkey=passkey, webhook_secret=secret)


def new_webhook_secret(partner: Partner, *, box: SecretBox) -> str:
    """A fresh webhook signing secret for ``partner`` (returned in clear this once)."""
    secret = webhooks.generate_secret()
    partner.webhook_secret_sealed = box.seal(secret, context=_context(partner, "webhook_secret"))
    return secret


def webhook_secret(partner: Partner, *, box: SecretBox) -> str:
    return box.open(partner.webhook_secret_sealed, context=_context(partner, "webhook_secret"))


def callback_auth(partner: Partner, *, box: SecretBox) -> tuple[str, str] | None:
    """The callback auth header (name, value), or None."""
    if partner.callback_auth_name is None or partner.callback_auth_sealed is None:
        return None
    value = box.open(partner.callback_auth_sealed, context=_context(partner, "callback_auth"))
    return partner.callback_auth_name, value


def reference_headers(partner: Partner, *, box: SecretBox) -> dict[str, str]:
    """The static headers sent with the partner's reference image fetches."""
    if partner.reference_headers_sealed is None:
        return {}
    opened = box.open(partner.reference_headers_sealed, context=_context(partner, "reference_headers"))
    headers: dict[str, Any] = json.loads(opened)
    return {str(name): str(value) for name, value in headers.items()}


def _set_reference_headers(partner: Partner, headers: Mapping[str, str], box: SecretBox) -> None:
    for name, value in headers.items():
        try:
            safe_http.check_header(name, value)
        except ValueError as error:
            raise InvalidFieldError("reference-headers", str(error)) from None
    partner.reference_header_names = sorted(headers)
    partner.reference_headers_sealed = (
        box.seal(json.dumps(dict(headers), sort_keys=True), context=_context(partner, "reference_headers"))
        if headers
        else None
    )


def reseal(partner: Partner, *, box: SecretBox) -> bool:
    """Seal the partner's secrets again with the current key (after a key rotation); True when
    anything was sealed with an older key."""
    sealed = [partner.webhook_secret_sealed, partner.callback_auth_sealed, partner.reference_headers_sealed]
    if all(value is None or box.key_id_of(value) == box.key_id for value in sealed):
        return False
    partner.webhook_secret_sealed = box.seal(
        webhook_secret(partner, box=box), context=_context(partner, "webhook_secret")
    )
    auth = callback_auth(partner, box=box)
    if auth is not None:
        partner.callback_auth_sealed = box.seal(auth[1], context=_context(partner, "callback_auth"))
    _set_reference_headers(partner, reference_headers(partner, box=box), box)
    return True


def apply_options(partner: Partner, options: PartnerOptions, *, box: SecretBox | None = None) -> None:
    """Validate and apply the given settings (``box`` is needed to set reference headers)."""
    if options.onboarding_partners is not None:
        partner.onboarding_partners = [v.strip() for v in options.onboarding_partners if v.strip()]
    if options.reference_hosts is not None:
        partner.reference_hosts = [_host_pattern(h) for h in options.reference_hosts if h.strip()]
    if options.reference_headers is not None:
        if box is None:
            raise ValueError("setting reference headers needs the secret box")
        _set_reference_headers(partner, options.reference_headers, box)
    if options.frame_origins is not None:
        partner.frame_origins = [frame_origin(origin) for origin in options.frame_origins]
    if options.max_attempts is not None and not 1 <= options.max_attempts <= 20:
        raise InvalidFieldError("max-attempts", "max attempts must be 1..20")
    if options.retry_window_s is not None and not 0 < options.retry_window_s <= MAX_RETRY_WINDOW_S:
        raise InvalidFieldError("retry-window-s", f"the retry window must be 1..{MAX_RETRY_WINDOW_S} s")
    if options.liveness is not None and options.liveness not in tuple(LivenessMode):
        raise InvalidFieldError("liveness", "liveness must be off or active")
    for setting in partner_settings.SETTINGS:
        value = getattr(options, setting.name)
        if value is not None:
            setattr(partner, setting.name, value)
    if options.privacy_url is not None:
        partner.privacy_url = _link("privacy-url", options.privacy_url) if options.privacy_url else None
    if options.sandbox is not None:
        partner.sandbox = options.sandbox


def _link(name: str, url: str) -> str:
    """A link we hand to browsers (:meth:`UrlPolicy.link`), or InvalidFieldError."""
    try:
        return UrlPolicy.link(url)
    except DestinationNotAllowedError:
        raise InvalidFieldError(
            name, f"the {name.replace('-', ' ')} must be an http(s) URL without credentials"
        ) from None


def _host_pattern(value: str) -> str:
    """A reference-host allowlist entry (:meth:`UrlPolicy.host_pattern`), or InvalidFieldError."""
    try:
        return UrlPolicy.host_pattern(value)
    except DestinationNotAllowedError as error:
        raise InvalidFieldError(
            "reference-hosts", f"not a host or *.domain pattern: {value!r} ({error})"
        ) from None


def frame_origin(value: str) -> str:
    """An origin allowed to frame the web app (:meth:`UrlPolicy.origin`), or InvalidFieldError."""
    try:
        return UrlPolicy.origin(value)
    except DestinationNotAllowedError:
        raise InvalidFieldError("frame-origin", f"not an origin (http(s)://host[:port]): {value!r}") from None


def rotate_passkey(partner: Partner, *, overlap_s: int) -> str:
    """A new pass-key; the old one, and the tokens minted so far, stay valid for ``overlap_s``
    seconds (0: revoked now)."""
    passkey = new_passkey()
    if overlap_s > 0:
        partner.previous_passkey_hash = partner.passkey_hash
        partner.previous_passkey_expires_at = utcnow() + timedelta(seconds=overlap_s)
    else:
        partner.previous_passkey_hash = None
        partner.previous_passkey_expires_at = None
    partner.passkey_hash = hash_passkey(passkey)
    partner.token_generation += 1
    return passkey


def set_disabled(partner: Partner, disabled: bool) -> None:
    """Disable (or enable) a partner. Disabling revokes every token minted so far and the previous
    pass-key for good: enabling again does not bring them back."""
    if disabled and not partner.disabled:
        partner.token_generation += 1
        partner.previous_passkey_hash = None
        partner.previous_passkey_expires_at = None
    partner.disabled = disabled


def token_is_current(partner: Partner, claims: Mapping[str, Any]) -> bool:
    """Whether a token's generation (``gen``; tokens from before generations count as 1) is the
    partner's current one, or the previous one while the previous pass-key is still valid."""
    generation = claims.get("gen", 1)
    if not isinstance(generation, int) or isinstance(generation, bool):
        return False
    if generation == partner.token_generation:
        return True
    expires = partner.previous_passkey_expires_at
    return generation == partner.token_generation - 1 and expires is not None and expires > utcnow()


def set_callback(
    partner: Partner,
    url: str | None,
    *,
    box: SecretBox,
    policy: safe_http.FetchPolicy,
    method: str = "POST",
    auth_header: str | None = None,
    keep_auth: bool = False,
) -> None:
    """Set (or clear, with None) the completion callback endpoint. ``policy`` is the one deliveries
    use (``svc.callback_policy``): a URL it would refuse at send time is refused now.
    ``keep_auth``: with no ``auth_header``, keep the one set before (its value is sealed)."""
    if url is not None:
        try:
            policy.urls.destination(url, allowed_hosts=policy.allowed_hosts)
        except DestinationNotAllowedError as error:
            raise InvalidFieldError("callback-url", f"the callback URL is not allowed: {error}") from None
    if method.upper() not in webhooks.CALLBACK_METHODS:
        raise InvalidFieldError("callback-method", "the callback method must be POST, PUT or PATCH")
    auth: tuple[str, str] | None = None
    if auth_header is not None:
        try:
            auth = webhooks.auth_header_fields(auth_header)
        except ValueError as error:
            raise InvalidFieldError("callback-auth-header", str(error)) from None
    partner.callback_url = url
    partner.callback_method = method.upper()
    if auth is not None or not keep_auth:
        partner.callback_auth_name = auth[0] if auth else None
        partner.callback_auth_sealed = (
            box.seal(auth[1], context=_context(partner, "callback_auth")) if auth else None
        )
    partner.callback_gone_at = None


@dataclass(frozen=True, slots=True)
class Authenticated:
    partner: Partner
    token_generation: int
    """The generation tokens minted now carry (the previous one when the previous pass-key matched)."""


def authenticate(
    client_id: str, passkey: str, source: str, *, session: Session, throttle: AuthThrottle
) -> Authenticated:
    """The enabled partner whose pass-key (current, or previous within its overlap) matches."""
    throttle.check(client_id, source)
    partner = partner_repo.partner_by_client_id(client_id, session=session)
    offered = hash_passkey(passkey)
    generation: int | None = None
    if partner is not None and not partner.disabled:
        if hmac.compare_digest(offered, partner.passkey_hash):
            generation = partner.token_generation
        previous = partner.previous_passkey_hash
        expires = partner.previous_passkey_expires_at
        live = previous is not None and expires is not None and expires > utcnow()
        if generation is None and live and hmac.compare_digest(offered, previous or ""):
            generation = partner.token_generation - 1
    else:
        hmac.compare_digest(offered, offered)  # same work whether or not the client exists
    if generation is None or partner is None:
        throttle.failed(client_id, source)
        raise UnauthorizedError("client-id or pass-key is wrong")
    throttle.succeeded(client_id, source)
    return Authenticated(partner, generation)


def describe(partner: Partner) -> dict[str, object]:
    """Everything about a partner an operator may see (no pass-key, no secret, no header value)."""
    return {
        "id": partner.id,
        "clientId": partner.client_id,
        "name": partner.name,
        "disabled": partner.disabled,
        "onboardingPartners": partner.onboarding_partners,
        "callback": {
            "url": partner.callback_url,
            "method": partner.callback_method,
            "authHeader": partner.callback_auth_name,
            "goneAt": partner.callback_gone_at.isoformat() if partner.callback_gone_at else None,
        },
        "referenceHosts": partner.reference_hosts,
        "referenceHeaders": list(partner.reference_header_names),
        "frameOrigins": partner.frame_origins,
        **{setting.wire: getattr(partner, setting.name) for setting in partner_settings.SETTINGS},
        "privacyUrl": partner.privacy_url,
        "sandbox": partner.sandbox,
        "previousPasskeyValidUntil": (
            partner.previous_passkey_expires_at.isoformat() if partner.previous_passkey_expires_at else None
        ),
        "createdAt": partner.created_at.isoformat(),
    }
