"""Dependencies: the services of this app, the caller's address, the success envelope."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request

from facematch.errors import InvalidFieldError, UploadTooLargeError
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
SdkSessionId = Annotated[str | None, Header(alias="x-sdk-session-id")]
OnboardingPartner = Annotated[str | None, Header(alias="x-onboarding-partner")]


def utf8_header(value: str | None, name: str) -> str | None:
    """A header value as the partner wrote it. HTTP carries header values as bytes, which the
    framework reads as Latin-1; the ids partners send (their user and session ids, e.g. "José")
    are UTF-8, so their bytes are read again as such and echoed byte for byte. Bytes that are not
    UTF-8 are refused with the header's contract error (``INVALID_<NAME>``)."""
    if value is None:
        return None
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise InvalidFieldError(name, f"{name} must be UTF-8 text") from None


def _partner_session_id(
    value: Annotated[str | None, Header(alias="x-partner-session-id")] = None,
) -> str | None:
    return utf8_header(value, "x-partner-session-id")


def _partner_user_id(value: Annotated[str | None, Header(alias="x-partner-user-id")] = None) -> str | None:
    return utf8_header(value, "partner-user-id")


def _partner_user_id_type(
    value: Annotated[str | None, Header(alias="x-partner-user-id-type")] = None,
) -> str | None:
    return utf8_header(value, "partner-user-id-type")


PartnerSessionId = Annotated[str | None, Depends(_partner_session_id)]
PartnerUserId = Annotated[str | None, Depends(_partner_user_id)]
PartnerUserIdType = Annotated[str | None, Depends(_partner_user_id_type)]
SubmissionIdHeader = Annotated[str | None, Header(alias="x-submission-id")]
ClientId = Annotated[str | None, Header(alias="client-id")]
PassKey = Annotated[str | None, Header(alias="pass-key")]
