"""Dependencies: the services of this app, the caller's address, the success envelope."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request

from facematch.flows.context import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def ok(data: dict[str, Any]) -> dict[str, Any]:
    """The contract's success envelope."""
    return {"success": True, "data": data}


Svc = Annotated[Services, Depends(get_services)]
Source = Annotated[str, Depends(client_address)]
OneKycToken = Annotated[str | None, Header(alias="x-onekyc-token")]
PartnerSessionId = Annotated[str | None, Header(alias="x-partner-session-id")]
SdkSessionId = Annotated[str | None, Header(alias="x-sdk-session-id")]
OnboardingPartner = Annotated[str | None, Header(alias="x-onboarding-partner")]
PartnerUserId = Annotated[str | None, Header(alias="x-partner-user-id")]
PartnerUserIdType = Annotated[str | None, Header(alias="x-partner-user-id-type")]
SubmissionIdHeader = Annotated[str | None, Header(alias="x-submission-id")]
ClientId = Annotated[str | None, Header(alias="client-id")]
PassKey = Annotated[str | None, Header(alias="pass-key")]
