"""The gateway flow called directly: partner and user tokens, and what each token may call."""

from __future__ import annotations

import pytest

from facematch.errors import (
    MissingFieldError,
    OnboardingPartnerMismatchError,
    UnauthorizedError,
)
from facematch.flows import gateway, partners
from facematch.flows.context import Services
from facematch.storage.models import Partner
from servicekit import ONBOARDING, create_partner, user_token


def test_a_partner_token_speaks_for_its_partner_and_is_no_user_token(fake_services: Services) -> None:
    svc = fake_services
    creds = create_partner(svc.db)
    issued = gateway.partner_token(svc, client_id=creds.client_id, pass_key=creds.passkey, source="10.0.0.1")
    with svc.db.session() as session:
        assert gateway.require_partner(svc, issued.token, session=session).id == creds.partner_id
        with pytest.raises(UnauthorizedError):
            gateway.require_user(svc, issued.token, session=session)


@pytest.mark.parametrize(
    ("client_id", "pass_key", "code"),
    [(None, "x", "CLIENT_ID_CAN_NOT_BE_EMPTY"), ("x", "", "PASS_KEY_CAN_NOT_BE_EMPTY")],
)
def test_a_partner_token_needs_both_credentials(
    fake_services: Services, client_id: str | None, pass_key: str, code: str
) -> None:
    with pytest.raises(MissingFieldError) as raised:
        gateway.partner_token(fake_services, client_id=client_id, pass_key=pass_key, source="10.0.0.1")
    assert raised.value.code == code


def test_a_wrong_pass_key_gets_no_token(fake_services: Services) -> None:
    creds = create_partner(fake_services.db)
    with pytest.raises(UnauthorizedError):
        gateway.partner_token(fake_services, client_id=creds.client_id, pass_key="wrong", source="10.0.0.2")


def test_a_user_token_carries_its_user_and_onboarding_partner(fake_services: Services) -> None:
    svc = fake_services
    creds = create_partner(svc.db)
    token = user_token(svc, creds, "user-7", "PHONE")
    with svc.db.session() as session:
        scope = gateway.require_user(svc, token, session=session)
    assert (scope.partner.id, scope.partner_user_id, scope.partner_user_id_type) == (
        creds.partner_id,
        "user-7",
        "PHONE",
    )
    assert (scope.onboarding_partner, scope.flow_session_id) == (ONBOARDING, None)


def test_a_user_token_for_another_onboarding_partner_is_refused(fake_services: Services) -> None:
    creds = create_partner(fake_services.db)
    with pytest.raises(OnboardingPartnerMismatchError):
        gateway.user_token(
            fake_services,
            client_id=creds.client_id,
            pass_key=creds.passkey,
            onboarding_partner="SOMEONE-ELSE",
            partner_user_id="u",
            partner_user_id_type="T",
            source="10.0.0.3",
        )


def test_disabling_or_rotating_revokes_the_tokens_already_given(fake_services: Services) -> None:
    svc = fake_services
    disabled, rotated = create_partner(svc.db), create_partner(svc.db)
    tokens = {creds.partner_id: user_token(svc, creds) for creds in (disabled, rotated)}
    with svc.db.session() as session:
        disabled_row = session.get(Partner, disabled.partner_id)
        rotated_row = session.get(Partner, rotated.partner_id)
        assert disabled_row is not None and rotated_row is not None
        partners.set_disabled(disabled_row, True)
        partners.rotate_passkey(rotated_row, overlap_s=0)
    with svc.db.session() as session:
        for token in tokens.values():
            with pytest.raises(UnauthorizedError):
                gateway.require_user(svc, token, session=session)
