"""Partner management from the console (admins): every change goes through
:mod:`facematch.flows.partners` (which owns credentials and secrets) and is audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from facematch.errors import InvalidFieldError, PartnerNotFoundError
from facematch.flows import partners, review
from facematch.flows.console.operators import ConsoleUser, Permission
from facematch.flows.context import Services
from facematch.rules.review_band import Band
from facematch.storage import audit_repo, partner_repo, review_repo
from facematch.storage.models import Partner


@dataclass(frozen=True, slots=True)
class Credentials:
    """What is shown once: after creation (all three) or a pass-key rotation."""

    partner_id: str
    name: str
    client_id: str
    passkey: str
    webhook_secret: str | None = None


@dataclass(frozen=True, slots=True)
class Callback:
    url: str | None
    method: str = "POST"
    auth_header: str | None = None
    """A new ``Name: value`` header; None keeps the current one (see ``clear_auth``)."""
    clear_auth: bool = False


def _partner(session: Session, partner_id: str) -> Partner:
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise PartnerNotFoundError()
    return partner


def _audit(user: ConsoleUser, action: str, partner: Partner, source: str, **details: Any) -> dict[str, Any]:
    return {
        "actor": user.actor,
        "action": action,
        "submission_id": None,
        "details": {"partnerId": partner.id, **details},
        "source": source,
    }


def list_partners(svc: Services, user: ConsoleUser) -> tuple[list[dict[str, Any]], dict[str, Band]]:
    """Every partner as :func:`~facematch.flows.partners.describe` shows it, and their review bands."""
    user.require(Permission.MANAGE_PARTNERS)
    with svc.db.session() as session:
        described = [partners.describe(p) for p in partner_repo.list_partners(session=session)]
        bands = review_repo.bands(session=session)
        return described, bands


def partner_names(svc: Services) -> list[tuple[str, str]]:
    """(id, name) of every partner, for filters."""
    with svc.db.session() as session:
        return [(p.id, p.name) for p in partner_repo.list_partners(session=session)]


def get(svc: Services, user: ConsoleUser, partner_id: str) -> tuple[dict[str, Any], Band | None]:
    user.require(Permission.MANAGE_PARTNERS)
    with svc.db.session() as session:
        partner = _partner(session, partner_id)
        return partners.describe(partner), review_repo.band_of(partner_id, session=session)


def create(
    svc: Services,
    user: ConsoleUser,
    name: str,
    options: partners.PartnerOptions,
    callback: Callback,
    *,
    source: str,
) -> Credentials:
    user.require(Permission.MANAGE_PARTNERS)
    name = name.strip()
    if not name or len(name) > 200 or not name.isprintable():
        raise InvalidFieldError("name", "a partner needs a name (at most 200 printable characters)")
    with svc.db.session() as session:
        created = partners.create_partner(
            name,
            options,
            session=session,
            box=svc.secrets,
            default_max_attempts=svc.settings.submissions.default_max_attempts,
        )
        if callback.url:
            partners.set_callback(
                created.partner,
                callback.url,
                box=svc.secrets,
                policy=svc.callback_policy,
                method=callback.method,
                auth_header=callback.auth_header or None,
            )
        audit_repo.audit(
            **_audit(user, "partner_create", created.partner, source, name=name), session=session
        )
        return Credentials(
            created.partner.id, name, created.partner.client_id, created.passkey, created.webhook_secret
        )


def update(
    svc: Services, user: ConsoleUser, partner_id: str, options: partners.PartnerOptions, *, source: str
) -> None:
    user.require(Permission.MANAGE_PARTNERS)
    with svc.db.session() as session:
        partner = _partner(session, partner_id)
        partners.apply_options(partner, options, box=svc.secrets)
        audit_repo.audit(**_audit(user, "partner_update", partner, source), session=session)


def set_callback(
    svc: Services, user: ConsoleUser, partner_id: str, callback: Callback, *, source: str
) -> None:
    user.require(Permission.MANAGE_PARTNERS)
    with svc.db.session() as session:
        partner = _partner(session, partner_id)
        partners.set_callback(
            partner,
            callback.url or None,
            box=svc.secrets,
            policy=svc.callback_policy,
            method=callback.method,
            auth_header=callback.auth_header or None,
            keep_auth=not callback.clear_auth,
        )
        audit_repo.audit(
            **_audit(user, "partner_callback", partner, source, url=callback.url, method=callback.method),
            session=session,
        )


def rotate(svc: Services, user: ConsoleUser, partner_id: str, overlap_s: int, *, source: str) -> Credentials:
    user.require(Permission.MANAGE_PARTNERS)
    with svc.db.session() as session:
        partner = _partner(session, partner_id)
        passkey = partners.rotate_passkey(partner, overlap_s=max(0, overlap_s))
        audit_repo.audit(
            **_audit(user, "partner_rotate_passkey", partner, source, overlapS=overlap_s), session=session
        )
        return Credentials(partner.id, partner.name, partner.client_id, passkey)


def set_disabled(svc: Services, user: ConsoleUser, partner_id: str, disabled: bool, *, source: str) -> None:
    user.require(Permission.MANAGE_PARTNERS)
    with svc.db.session() as session:
        partner = _partner(session, partner_id)
        partners.set_disabled(partner, disabled)  # a disable also revokes every token minted before it
        action = "partner_disable" if disabled else "partner_enable"
        audit_repo.audit(**_audit(user, action, partner, source), session=session)


def set_band(svc: Services, user: ConsoleUser, partner_id: str, band: Band | None, *, source: str) -> None:
    user.require(Permission.MANAGE_PARTNERS)
    with svc.db.session() as session:
        _partner(session, partner_id)
    review.set_policy(svc, partner_id, band, actor=user.actor, source=source)
