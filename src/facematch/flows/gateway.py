"""The token gateway: partner and user tokens, and checking the token a request carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from facematch.errors import (
    InvalidFieldError,
    MissingFieldError,
    OnboardingPartnerMismatchError,
    UnauthorizedError,
)
from facematch.flows import partners
from facematch.flows.context import Services
from facematch.security.tokens import IssuedToken, TokenKind
from facematch.storage import partner_repo
from facematch.storage.models import FlowSession, Partner

MAX_HEADER_LEN = 200
"""Longest partner header value stored (the database columns are String(200))."""


def require_header(name: str, value: str | None) -> str:
    """A required header's value, or MissingFieldError (``<NAME>_CAN_NOT_BE_EMPTY``)."""
    if value is None or not value.strip():
        raise MissingFieldError(name)
    if len(value) > MAX_HEADER_LEN:
        raise InvalidFieldError(name)
    return value.strip()


@dataclass(frozen=True, slots=True)
class UserScope:
    """Who a user token speaks for: one partner user, and for Initiate Flow tokens one session."""

    partner: Partner
    partner_user_id: str
    partner_user_id_type: str
    onboarding_partner: str | None
    flow_session_id: str | None
    token_generation: int = 1


def partner_token(svc: Services, *, client_id: str | None, pass_key: str | None, source: str) -> IssuedToken:
    """Generate Partner Token (client-id + pass-key → partner JWT)."""
    if not client_id:
        raise MissingFieldError("client-id", code="CLIENT_ID_CAN_NOT_BE_EMPTY")
    if not pass_key:
        raise MissingFieldError("pass-key", code="PASS_KEY_CAN_NOT_BE_EMPTY")
    with svc.db.session() as session:
        who = partners.authenticate(client_id, pass_key, source, session=session, throttle=svc.throttle)
        partner_id = who.partner.id
    return svc.tokens.issue(
        TokenKind.PARTNER, partner_id, svc.settings.tokens.partner_ttl_s, gen=who.token_generation
    )


def user_token(
    svc: Services,
    *,
    client_id: str | None,
    pass_key: str | None,
    onboarding_partner: str | None,
    partner_user_id: str | None,
    partner_user_id_type: str | None,
    source: str,
) -> IssuedToken:
    """Generate User Token (client-id + pass-key + user headers → user JWT)."""
    if not client_id or not pass_key:
        raise MissingFieldError("client-id", code="MISSING_CLIENT_ID_OR_PASS_KEY")
    onboarding_partner = require_header("x-onboarding-partner", onboarding_partner)
    partner_user_id = require_header("partner-user-id", partner_user_id)
    partner_user_id_type = require_header("partner-user-id-type", partner_user_id_type)
    with svc.db.session() as session:
        who = partners.authenticate(client_id, pass_key, source, session=session, throttle=svc.throttle)
        check_onboarding_partner(who.partner, onboarding_partner)
        partner_id = who.partner.id
    return svc.tokens.issue(
        TokenKind.USER,
        partner_id,
        svc.settings.tokens.user_ttl_s,
        uid=partner_user_id,
        uidt=partner_user_id_type,
        obp=onboarding_partner,
        gen=who.token_generation,
    )


def check_onboarding_partner(partner: Partner, onboarding_partner: str) -> None:
    if onboarding_partner not in partner.onboarding_partners:
        raise OnboardingPartnerMismatchError()


def token_partner(partner_id: object, claims: dict[str, Any], *, session: Session) -> Partner:
    """The enabled partner ``partner_id`` a verified token was minted for, if the token is of a live
    generation; UnauthorizedError otherwise (revoked by a rotation or a disable, unknown partner)."""
    partner = partner_repo.partner_by_id(str(partner_id), session=session)
    if partner is None or partner.disabled or not partners.token_is_current(partner, claims):
        raise UnauthorizedError("partner unknown or disabled, or the token was revoked")
    return partner


def _enabled_partner(svc: Services, claims: dict[str, Any], *, session: Session) -> Partner:
    """The enabled partner a verified token names, within its request rate."""
    partner = token_partner(claims["sub"], claims, session=session)
    svc.rate.take(partner.id)
    return partner


@dataclass(frozen=True, slots=True)
class PartnerCaller:
    """A partner token's partner, and the generation tokens minted on its behalf carry."""

    partner: Partner
    token_generation: int


def require_partner_caller(svc: Services, token: str | None, *, session: Session) -> PartnerCaller:
    """:func:`require_partner`, with the token's generation (for tokens minted from it)."""
    claims = svc.tokens.verify(token, TokenKind.PARTNER)
    partner = _enabled_partner(svc, claims, session=session)
    return PartnerCaller(partner, int(claims.get("gen", 1)))


def require_partner(svc: Services, token: str | None, *, session: Session) -> Partner:
    """The enabled partner a partner token speaks for, or UnauthorizedError."""
    return require_partner_caller(svc, token, session=session).partner


def require_user(svc: Services, token: str | None, *, session: Session) -> UserScope:
    """The scope of a user token, or UnauthorizedError."""
    claims = svc.tokens.verify(token, TokenKind.USER)
    partner = _enabled_partner(svc, claims, session=session)
    uid, uidt = claims.get("uid"), claims.get("uidt")
    if not isinstance(uid, str) or not isinstance(uidt, str):
        raise UnauthorizedError("not a user token")
    sid = claims.get("sid")
    obp = claims.get("obp")
    return UserScope(
        partner=partner,
        partner_user_id=uid,
        partner_user_id_type=uidt,
        onboarding_partner=obp if isinstance(obp, str) else None,
        flow_session_id=sid if isinstance(sid, str) else None,
        token_generation=int(claims.get("gen", 1)),
    )


def user_token_for_session(
    svc: Services, flow_session: FlowSession, *, generation: int, web: str | None = None
) -> IssuedToken:
    """A user token bound to one Initiate Flow session: the SDK ``token`` (``tokens.user_ttl_s``), or
    with ``web`` (``desktop`` or ``phone``) a web session of the hosted flow (``web.session_ttl_s``)."""
    claims: dict[str, object] = {"web": web} if web else {}
    return svc.tokens.issue(
        TokenKind.USER,
        flow_session.partner_id,
        svc.settings.web.session_ttl_s if web else svc.settings.tokens.user_ttl_s,
        uid=flow_session.partner_user_id,
        uidt=flow_session.partner_user_id_type,
        obp=flow_session.onboarding_partner,
        sid=flow_session.id,
        gen=generation,
        **claims,
    )


@dataclass(frozen=True, slots=True)
class LaunchedSession:
    flow_session: FlowSession
    token_generation: int


def redeem_launch_token(svc: Services, launch_token: str | None) -> LaunchedSession:
    """The web app's exchange: a launch token (from the launch URL fragment) → its session."""
    claims = svc.tokens.verify(launch_token, TokenKind.LAUNCH)
    with svc.db.session() as session:
        flow_session = session.get(FlowSession, str(claims.get("sid", "")))
        partner = token_partner(claims["sub"], claims, session=session)
        if flow_session is None or flow_session.partner_id != partner.id:
            raise UnauthorizedError("launch token does not match a session")
        session.expunge(flow_session)
    return LaunchedSession(flow_session, int(claims.get("gen", 1)))
