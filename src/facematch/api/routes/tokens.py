"""Token gateway: partner token and user token (snake_case fields, as published)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from facematch.api.deps import (
    ClientId,
    OnboardingPartner,
    PartnerUserId,
    PartnerUserIdType,
    PassKey,
    Source,
    Svc,
    ok,
)
from facematch.api.errors import Surface
from facematch.api.schemas import TokenResponse
from facematch.flows import gateway
from facematch.security.tokens import IssuedToken

router = APIRouter(tags=["token gateway"])


def _token_data(issued: IssuedToken) -> dict[str, Any]:
    return ok(
        {
            "token": issued.token,
            "expiry_seconds": str(issued.expiry_seconds),
            "expires_at": str(issued.expires_at),
        }
    )


@router.get(
    "/v1/coe/partner/authentication",
    name=Surface.GATEWAY_PARTNER,
    response_model=TokenResponse,
    response_model_exclude_unset=True,
)
def partner_token(
    svc: Svc, source: Source, client_id: ClientId = None, pass_key: PassKey = None
) -> dict[str, Any]:
    """Generate Partner Token: ``client-id`` + ``pass-key`` → a partner JWT for Initiate Flow and details."""
    return _token_data(gateway.partner_token(svc, client_id=client_id, pass_key=pass_key, source=source))


@router.get(
    "/v2/coe/authentication",
    name=Surface.GATEWAY_USER,
    response_model=TokenResponse,
    response_model_exclude_unset=True,
)
def user_token(
    svc: Svc,
    source: Source,
    client_id: ClientId = None,
    pass_key: PassKey = None,
    onboarding_partner: OnboardingPartner = None,
    partner_user_id: PartnerUserId = None,
    partner_user_id_type: PartnerUserIdType = None,
) -> dict[str, Any]:
    """Generate User Token: a user JWT for the submission APIs (backend-to-backend and native SDK)."""
    issued = gateway.user_token(
        svc,
        client_id=client_id,
        pass_key=pass_key,
        onboarding_partner=onboarding_partner,
        partner_user_id=partner_user_id,
        partner_user_id_type=partner_user_id_type,
        source=source,
    )
    return _token_data(issued)
