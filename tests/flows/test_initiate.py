"""Initiate Flow called directly: a valid body stores one session and hands out an SDK token or a
launch URL; every refused field is named; a session asks for liveness and cannot turn off what its
partner requires."""

from __future__ import annotations

from typing import Any

import pytest

from facematch.errors import (
    DuplicatePartnerSessionError,
    InvalidFieldError,
    MissingFieldError,
    OnboardingPartnerMismatchError,
)
from facematch.flows import gateway, initiate
from facematch.flows.context import Services
from facematch.rules.states import LivenessMode
from facematch.storage.models import FlowSession
from servicekit import ONBOARDING, PartnerCreds, create_partner

WEB = {
    "flow": "FACE_MATCH",
    "source": "WEB_SDK",
    "successRedirectionUrl": "https://partner.example/done",
    "failureRedirectionUrl": "https://partner.example/failed",
}


def _request(
    svc: Services, creds: PartnerCreds, body: dict[str, Any], **headers: str
) -> initiate.InitiateRequest:
    token = gateway.partner_token(svc, client_id=creds.client_id, pass_key=creds.passkey, source="10.1.0.1")
    return initiate.InitiateRequest(
        token=token.token,
        onboarding_partner=headers.get("obp", ONBOARDING),
        partner_user_id="u-1",
        partner_user_id_type="PHONE",
        partner_session_id=headers.get("psid", "psid-1"),
        body=body,
    )


def test_a_web_session_gets_a_launch_url_and_its_choices_are_stored(fake_services: Services) -> None:
    svc = fake_services
    creds = create_partner(svc.db)
    body = {**WEB, "theme": "DARK_MODE", "additionalDetails": {"userLocale": "en_ID", "allowQr": False}}
    result = initiate.initiate_flow(svc, _request(svc, creds, body))
    assert result.token is None and result.launch_url is not None and "#" in result.launch_url
    with svc.db.session() as session:
        stored = session.query(FlowSession).filter_by(partner_id=creds.partner_id).one()
        assert (stored.source, stored.theme, stored.user_locale, stored.allow_qr, stored.interactive) == (
            "WEB_SDK",
            "DARK_MODE",
            "en_ID",
            False,
            True,
        )


def test_an_sdk_session_gets_a_user_token_bound_to_it(fake_services: Services) -> None:
    svc = fake_services
    creds = create_partner(svc.db)
    result = initiate.initiate_flow(svc, _request(svc, creds, {"flow": "FACE_MATCH", "source": "SDK"}))
    assert result.token is not None and result.launch_url is None
    with svc.db.session() as session:
        scope = gateway.require_user(svc, result.token, session=session)
        stored = session.query(FlowSession).filter_by(partner_id=creds.partner_id).one()
    assert (scope.flow_session_id, scope.partner_user_id) == (stored.id, "u-1")


def test_a_partner_session_id_starts_one_session_only(fake_services: Services) -> None:
    svc = fake_services
    creds = create_partner(svc.db)
    initiate.initiate_flow(svc, _request(svc, creds, WEB))
    with pytest.raises(DuplicatePartnerSessionError):
        initiate.initiate_flow(svc, _request(svc, creds, WEB))


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"flow": None}, MissingFieldError, "flow"),
        ({"source": "KIOSK"}, InvalidFieldError, "source"),
        ({"theme": "PINK"}, InvalidFieldError, "theme"),
        ({"successRedirectionUrl": None}, MissingFieldError, "successRedirectionUrl"),
        ({"failureRedirectionUrl": "javascript:alert(1)"}, InvalidFieldError, "failureRedirectionUrl"),
        ({"additionalDetails": "yes"}, InvalidFieldError, "additionalDetails"),
        ({"additionalDetails": {"userLocale": "fr"}}, InvalidFieldError, "userLocale"),
        ({"additionalDetails": {"forceQr": "true"}}, InvalidFieldError, "forceQr"),
        (
            {"additionalDetails": {"referenceImageUrl": "http://elsewhere.example/ktp.jpg"}},
            InvalidFieldError,
            "referenceImageUrl",
        ),
    ],
)
def test_a_refused_field_is_named_and_nothing_is_stored(
    fake_services: Services, change: dict[str, Any], error: type[Exception], field: str
) -> None:
    svc = fake_services
    creds = create_partner(svc.db)
    body = {key: value for key, value in {**WEB, **change}.items() if value is not None}
    with pytest.raises(error) as raised:
        initiate.initiate_flow(svc, _request(svc, creds, body))
    assert field in str(raised.value)
    with svc.db.session() as session:
        assert session.query(FlowSession).filter_by(partner_id=creds.partner_id).count() == 0


def test_another_onboarding_partner_is_refused(fake_services: Services) -> None:
    svc = fake_services
    with pytest.raises(OnboardingPartnerMismatchError):
        initiate.initiate_flow(svc, _request(svc, create_partner(svc.db), WEB, obp="OTHER"))


@pytest.mark.parametrize(
    ("partner", "asked", "expected"),
    [
        ("off", None, LivenessMode.OFF),
        ("off", "off", LivenessMode.OFF),
        ("off", "active", LivenessMode.ACTIVE),
        ("active", None, LivenessMode.ACTIVE),
        ("active", "off", LivenessMode.ACTIVE),
    ],
)
def test_a_session_asks_for_liveness_and_cannot_turn_off_its_partners(
    fake_services: Services, partner: str, asked: str | None, expected: LivenessMode
) -> None:
    svc = fake_services
    creds = create_partner(svc.db, liveness=partner)
    details = {} if asked is None else {"liveness": asked}
    initiate.initiate_flow(svc, _request(svc, creds, {**WEB, "additionalDetails": details}))
    with svc.db.session() as session:
        stored = session.query(FlowSession).filter_by(partner_id=creds.partner_id).one()
        assert stored.liveness is expected


def test_an_unknown_liveness_mode_is_refused(fake_services: Services) -> None:
    svc = fake_services
    body = {**WEB, "additionalDetails": {"liveness": "passive"}}
    with pytest.raises(InvalidFieldError):
        initiate.initiate_flow(svc, _request(svc, create_partner(svc.db), body))
