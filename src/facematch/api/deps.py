"""Dependencies: the services of this app, the caller's address, the success envelope."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request

from facematch.errors import UploadTooLargeError
from facematch.flows.context import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def read_capped_body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it passes ``limit`` bytes (chunked uploads too)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise UploadTooLargeError(f"the upload exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


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
