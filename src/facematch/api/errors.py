"""The one mapping from domain errors to HTTP status + OneKYC code/cause, and the handlers.

Lookup walks the exception's classes (most specific first); for each, an endpoint-specific row
(where the contract gives that endpoint its own code) wins over the default row. ``cause`` None
means the exception's own ``code`` (e.g. ``X_PARTNER_SESSION_ID_CAN_NOT_BE_EMPTY``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from facematch import errors as e

log = logging.getLogger(__name__)


class Surface(StrEnum):
    """Endpoints whose error rows differ; used as route names."""

    GATEWAY_PARTNER = "partner_token"
    GATEWAY_USER = "user_token"
    INITIATE = "initiate_flow"
    PRESIGN = "presigned_urls"
    UPLOAD = "upload_document"
    CONFIRM = "confirm_upload"
    STATUS = "submission_status"
    DETAILS = "submission_details"
    FACE_MATCH = "face_match"
    IMAGE = "selfie_image"
    FINISH = "finish_session"


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    status: int
    code: str
    cause: str | None = None


DEFAULT: dict[type[Exception], ErrorSpec] = {
    e.MissingFieldError: ErrorSpec(400, "1539"),
    e.InvalidFieldError: ErrorSpec(400, "1539"),
    e.DuplicatePartnerSessionError: ErrorSpec(400, "1539"),
    e.InvalidSubmissionTypeError: ErrorSpec(400, "1542"),
    e.InvalidConfirmRequestError: ErrorSpec(400, "1542"),
    e.InvalidSubmissionIdError: ErrorSpec(400, "1541"),
    e.SessionUserMismatchError: ErrorSpec(400, "1553"),
    e.LivenessRequiredError: ErrorSpec(400, "1542"),
    e.RequestError: ErrorSpec(400, "1539"),
    e.UnauthorizedError: ErrorSpec(401, "110", "UNAUTHORIZED"),
    e.ForbiddenError: ErrorSpec(403, "110", "FORBIDDEN"),
    e.OnboardingPartnerMismatchError: ErrorSpec(403, "110", "ONBOARDING_PARTNER_DOES_NOT_BELONG_TO_CLIENT"),
    e.AuthThrottledError: ErrorSpec(429, "429", "TOO_MANY_REQUESTS"),
    e.AuthError: ErrorSpec(401, "110", "UNAUTHORIZED"),
    e.PartnerBusyError: ErrorSpec(429, "429", "PARTNER_CAPACITY_EXCEEDED"),
    e.RateLimitedError: ErrorSpec(429, "429", "TOO_MANY_REQUESTS"),
    e.SubmissionNotFoundError: ErrorSpec(404, "404", "SUBMISSION_DOES_NOT_EXIST"),
    e.SubmissionStateConflictError: ErrorSpec(409, "409", "SUBMISSION_STATE_CONFLICT"),
    e.SubmissionQuotaExceededError: ErrorSpec(429, "429", "SUBMISSION_QUOTA_EXCEEDED"),
    e.InvalidUploadArtifactError: ErrorSpec(422, "422", "INVALID_UPLOAD_ARTIFACT"),
    e.UploadTooLargeError: ErrorSpec(413, "413", "PAYLOAD_TOO_LARGE"),
    e.CallbackNotConfiguredError: ErrorSpec(409, "409", "CALLBACK_NOT_CONFIGURED"),
    e.ClipError: ErrorSpec(422, "422", "INVALID_UPLOAD_ARTIFACT"),
    e.ServiceUnavailableError: ErrorSpec(503, "903", "SERVICE_UNAVAILABLE"),
    e.WebSessionError: ErrorSpec(401, "110"),
    e.HandoffLinkError: ErrorSpec(410, "410"),
    e.CaptureRejectedError: ErrorSpec(422, "422"),
    e.LivenessChallengeError: ErrorSpec(409, "409"),
    e.CaptureLimitError: ErrorSpec(429, "429"),
    e.LoginFailedError: ErrorSpec(401, "401"),
    e.LoginThrottledError: ErrorSpec(429, "429"),
    e.ConsoleSessionError: ErrorSpec(401, "401"),
    e.CsrfError: ErrorSpec(403, "403"),
    e.PermissionDeniedError: ErrorSpec(403, "403"),
    e.PasswordChangeRequiredError: ErrorSpec(403, "403"),
    e.OperatorExistsError: ErrorSpec(409, "409"),
    e.OperatorNotFoundError: ErrorSpec(404, "404"),
    e.PartnerNotFoundError: ErrorSpec(404, "404"),
    e.ReviewNotFoundError: ErrorSpec(404, "404"),
    e.ReviewConflictError: ErrorSpec(409, "409"),
    e.ReviewClaimedError: ErrorSpec(409, "409"),
    e.ConsoleError: ErrorSpec(400, "400"),
    e.FacematchError: ErrorSpec(500, "900", "GENERIC_SERVICE_ERROR"),
}

PER_ENDPOINT: dict[tuple[Surface, type[Exception]], ErrorSpec] = {
    (Surface.STATUS, e.SubmissionNotFoundError): ErrorSpec(404, "1543", "SUBMISSION_DOES_NOT_EXIST"),
    (Surface.DETAILS, e.SubmissionNotFoundError): ErrorSpec(400, "1552", "SUBMISSION_DOES_NOT_EXIST"),
    (Surface.DETAILS, e.MissingFieldError): ErrorSpec(400, "1550"),
    (Surface.DETAILS, e.ForbiddenError): ErrorSpec(403, "903", "FORBIDDEN"),
    (Surface.FINISH, e.SubmissionNotFoundError): ErrorSpec(400, "1552", "SUBMISSION_DOES_NOT_EXIST"),
    (Surface.IMAGE, e.SubmissionNotFoundError): ErrorSpec(404, "404", "NOT_FOUND"),
    (Surface.PRESIGN, e.FacematchError): ErrorSpec(500, "900", "SOMETHING_WENT_WRONG"),
    (Surface.STATUS, e.FacematchError): ErrorSpec(500, "900", "SOMETHING_WENT_WRONG"),
}

#: Endpoints whose published examples type ``code`` as an integer.
INTEGER_CODES = frozenset({Surface.GATEWAY_USER, Surface.DETAILS})
#: Endpoints of the token gateway, whose errors name their entity.
TOKEN_GATEWAY = frozenset({Surface.GATEWAY_PARTNER, Surface.GATEWAY_USER})
#: Request bodies that fail to parse, per endpoint.
MALFORMED_BODY: dict[Surface, type[e.RequestError]] = {Surface.CONFIRM: e.InvalidConfirmRequestError}


def lookup(error: Exception, surface: Surface | None) -> ErrorSpec:
    for cls in type(error).__mro__:
        if surface is not None and (surface, cls) in PER_ENDPOINT:
            return PER_ENDPOINT[(surface, cls)]
        if cls in DEFAULT:
            return DEFAULT[cls]
    return DEFAULT[e.FacematchError]


def surface_of(request: Request) -> Surface | None:
    route = request.scope.get("route")
    name = getattr(route, "name", None)
    try:
        return Surface(name) if name else None
    except ValueError:
        return None


def error_body(
    code: str | int, cause: str, *, entity: str | None = None, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The contract's error envelope: the one place it is spelled."""
    item: dict[str, Any] = {"code": code, "cause": cause}
    if entity is not None:
        item["entity"] = entity
    return {"success": False, "errors": [item], "data": data}


def envelope(
    status: int, code: str, cause: str, surface: Surface | None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An error answer of ``surface``: integer codes and the token gateway's entity where published."""
    body = error_body(
        int(code) if surface in INTEGER_CODES and code.isdigit() else code,
        cause,
        entity="ONEKYC_TOKEN_SERVICE" if surface in TOKEN_GATEWAY else None,
    )
    return JSONResponse(body, status_code=status, headers=headers)


#: Answers errors under this path with the console's HTML pages (``app.state.console_error_page``).
CONSOLE_PREFIX = "/console"
ConsolePage = Callable[[Request, Exception, int, str], Response]


def _console_page(request: Request) -> ConsolePage | None:
    path = request.url.path
    if path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/"):
        page: ConsolePage | None = getattr(request.app.state, "console_error_page", None)
        return page
    return None


async def _domain_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, e.FacematchError)
    surface = surface_of(request)
    spec = lookup(error, surface)
    if spec.status >= 500:
        log.error("request failed: %s", error.code, exc_info=error)
    page = _console_page(request)
    if page is not None:
        return page(request, error, spec.status, spec.cause or error.code)
    retry_after = getattr(error, "retry_after_s", None)
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return envelope(spec.status, spec.code, spec.cause or error.code, surface, headers)


async def _validation_error(request: Request, error: Exception) -> Response:
    surface = surface_of(request)
    domain = MALFORMED_BODY.get(surface, e.RequestError) if surface else e.RequestError
    return await _domain_error(request, domain())


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    if isinstance(error.__cause__, e.FacematchError):
        # FastAPI wraps what fails while it reads a body (a body over its cap) in a 400
        return await _domain_error(request, error.__cause__)
    causes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}
    cause = causes.get(
        error.status_code, "INVALID_REQUEST" if error.status_code < 500 else "GENERIC_SERVICE_ERROR"
    )
    page = _console_page(request)
    if page is not None:
        return page(request, error, error.status_code, cause)
    return envelope(
        error.status_code, str(error.status_code), cause, surface_of(request), dict(error.headers or {})
    )


def unexpected_error_response(scope: Scope) -> Response:
    """The answer to an exception nobody handled (the request middleware sends it)."""
    request = Request(scope)
    page = _console_page(request) if "app" in scope else None
    if page is not None:
        return page(
            request, e.FacematchError("something went wrong on our side"), 500, "GENERIC_SERVICE_ERROR"
        )
    surface = surface_of(request)
    spec = lookup(e.FacematchError(), surface)
    return envelope(spec.status, spec.code, spec.cause or "GENERIC_SERVICE_ERROR", surface)


def install(app: FastAPI) -> None:
    app.add_exception_handler(e.FacematchError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
