"""Initiate Flow: a partner session with its options, answered with an SDK token or a launch URL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from facematch.errors import (
    DestinationNotAllowedError,
    DuplicatePartnerSessionError,
    InvalidFieldError,
    MissingFieldError,
)
from facematch.flows import gateway
from facematch.flows.context import Services
from facematch.flows.gateway import require_header
from facematch.outbound.urls import UrlPolicy
from facematch.rules.states import INITIATE_SOURCES, Flow, LivenessMode, Locale, Source, Theme, liveness_of
from facematch.security.tokens import TokenKind
from facematch.storage import submission_repo
from facematch.storage.models import FlowSession


@dataclass(frozen=True, slots=True)
class InitiateRequest:
    """Headers and body of Initiate Flow as received (nothing validated yet)."""

    token: str | None
    onboarding_partner: str | None
    partner_user_id: str | None
    partner_user_id_type: str | None
    partner_session_id: str | None
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class InitiateResult:
    token: str | None
    launch_url: str | None
    expiry_seconds: int
    expires_at: int


def _url(name: str, value: Any, check: Callable[[str], object], *, required: bool) -> str | None:
    """An optional URL field, checked by a rule of the URL policy; InvalidFieldError when refused."""
    if value is None or value == "":
        if required:
            raise MissingFieldError(name)
        return None
    if not isinstance(value, str):
        raise InvalidFieldError(name)
    try:
        check(value)
    except DestinationNotAllowedError as error:
        raise InvalidFieldError(name, f"{name}: {error}") from None
    return value


def _enum(name: str, value: Any, allowed: tuple[str, ...], default: str | None) -> str:
    if value is None:
        if default is None:
            raise MissingFieldError(name)
        return default
    if not isinstance(value, str) or value not in allowed:
        raise InvalidFieldError(name)
    return value


def _flag(name: str, value: Any, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidFieldError(name)
    return value


def initiate_flow(svc: Services, request: InitiateRequest) -> InitiateResult:
    """Validate and store the session; the reference image URL is only fetched at processing time."""
    with svc.db.session() as session:
        caller = gateway.require_partner_caller(svc, request.token, session=session)
        partner = caller.partner
        psid = require_header("x-partner-session-id", request.partner_session_id)
        obp = require_header("x-onboarding-partner", request.onboarding_partner)
        uid = require_header("partner-user-id", request.partner_user_id)
        uidt = require_header("partner-user-id-type", request.partner_user_id_type)
        gateway.check_onboarding_partner(partner, obp)
        body = request.body
        flow = _enum("flow", body.get("flow"), tuple(Flow), None)
        source = _enum("source", body.get("source"), INITIATE_SOURCES, None)
        web = source == Source.WEB_SDK
        link = UrlPolicy.link
        success_url = _url("successRedirectionUrl", body.get("successRedirectionUrl"), link, required=web)
        failure_url = _url("failureRedirectionUrl", body.get("failureRedirectionUrl"), link, required=web)
        theme = _enum("theme", body.get("theme"), tuple(Theme), Theme.NO_PREFERENCE)
        details = body.get("additionalDetails")
        if details is None:
            details = {}
        if not isinstance(details, dict):
            raise InvalidFieldError("additionalDetails")
        # the fetcher's own rules, with the partner's reference hosts (``*.suffix`` patterns too)
        hosts = partner.reference_hosts

        def fetchable(url: str) -> object:
            return svc.urls.destination(url, allowed_hosts=hosts)

        reference_url = _url("referenceImageUrl", details.get("referenceImageUrl"), fetchable, required=False)
        if submission_repo.flow_session_by_psid(partner.id, psid, session=session) is not None:
            raise DuplicatePartnerSessionError()
        flow_session = FlowSession(
            id=str(uuid.uuid4()),
            partner_id=partner.id,
            partner_session_id=psid,
            onboarding_partner=obp,
            partner_user_id=uid,
            partner_user_id_type=uidt,
            source=source,
            interactive=True,
            flow=flow,
            success_url=success_url,
            failure_url=failure_url,
            theme=theme,
            reference_image_url=reference_url,
            user_locale=_enum("userLocale", details.get("userLocale"), tuple(Locale), Locale.ID),
            allow_qr=_flag("allowQr", details.get("allowQr"), partner.allow_qr),
            force_qr=_flag("forceQr", details.get("forceQr"), partner.force_qr),
            portrait_only=_flag("portraitOnly", details.get("portraitOnly"), True),
            sandbox=partner.sandbox,
            # our extension: a session may ask for the challenge; it cannot turn off its partner's
            liveness=liveness_of(
                partner.liveness,
                _enum("liveness", details.get("liveness"), tuple(LivenessMode), LivenessMode.OFF),
            ),
        )
        session.add(flow_session)
        try:
            session.flush()
        except IntegrityError:
            raise DuplicatePartnerSessionError() from None
    if not web:
        issued = gateway.user_token_for_session(svc, flow_session, generation=caller.token_generation)
        return InitiateResult(issued.token, None, issued.expiry_seconds, issued.expires_at)
    # ``loc``: the page shows its first screens (loading, an invalid or expired link) in this language
    launch = svc.tokens.issue(
        TokenKind.LAUNCH,
        flow_session.partner_id,
        svc.settings.tokens.user_ttl_s,
        sid=flow_session.id,
        gen=caller.token_generation,
        loc=flow_session.user_locale,
    )
    return InitiateResult(None, svc.links.launch(launch.token), launch.expiry_seconds, launch.expires_at)
