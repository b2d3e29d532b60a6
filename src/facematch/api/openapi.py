"""The OpenAPI document: typed, with the contract's required headers, every endpoint's error rows in the
real envelope, the README's examples, and no FastAPI default 422 (the service never sends one).

Headers stay optional for the framework, so that a missing one still gets the contract's own code
and cause from the flows (``X_PARTNER_SESSION_ID_CAN_NOT_BE_EMPTY``, ``UNAUTHORIZED``, ...); the
document marks them required, as the contract does. The error rows are derived from the one error
table (:mod:`facematch.api.errors`), so the document cannot drift from what the service answers.
``/docs`` is Swagger UI served from a local copy (no CDN).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from facematch import errors as e
from facematch.api import examples, schemas
from facematch.api.errors import INTEGER_CODES, Surface, envelope, lookup

DOCS_ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}

_USER = ("x-onekyc-token", "x-partner-session-id", "x-sdk-session-id")


def _missing(*names: str) -> list[e.FacematchError]:
    return [e.MissingFieldError(name) for name in names]


def _invalid(*names: str) -> list[e.FacematchError]:
    return [e.InvalidFieldError(name) for name in names]


_HEADERS = ("x-partner-session-id", "partner-user-id", "partner-user-id-type")
_RATE = e.RateLimitedError(1)
_UNEXPECTED = e.FacematchError()


@dataclass(frozen=True)
class Operation:
    """What the document says about one operation beyond what the framework sees."""

    required_headers: tuple[str, ...] = ()
    errors: list[e.FacematchError] = field(default_factory=list)
    request: type[BaseModel] | None = None
    request_example: Any = None
    example: Any = None


OPERATIONS: dict[Surface, Operation] = {
    Surface.GATEWAY_PARTNER: Operation(
        ("client-id", "pass-key"),
        [
            e.MissingFieldError("client-id", code="CLIENT_ID_CAN_NOT_BE_EMPTY"),
            e.MissingFieldError("pass-key", code="PASS_KEY_CAN_NOT_BE_EMPTY"),
            e.UnauthorizedError(),
            e.AuthThrottledError(60),
            _UNEXPECTED,
        ],
        example=examples.PARTNER_TOKEN,
    ),
    Surface.GATEWAY_USER: Operation(
        ("client-id", "pass-key", "x-onboarding-partner", "x-partner-user-id", "x-partner-user-id-type"),
        [
            e.MissingFieldError("client-id", code="MISSING_CLIENT_ID_OR_PASS_KEY"),
            *_missing("x-onboarding-partner", "partner-user-id", "partner-user-id-type"),
            *_invalid("x-onboarding-partner", "partner-user-id", "partner-user-id-type"),
            e.UnauthorizedError(),
            e.OnboardingPartnerMismatchError(),
            e.AuthThrottledError(60),
            _UNEXPECTED,
        ],
        example=examples.USER_TOKEN,
    ),
    Surface.INITIATE: Operation(
        (
            "x-onekyc-token",
            "x-onboarding-partner",
            "x-partner-user-id",
            "x-partner-user-id-type",
            "x-partner-session-id",
        ),
        [
            *_missing(
                "x-partner-session-id", "x-onboarding-partner", "partner-user-id", "partner-user-id-type"
            ),
            *_missing("flow", "source", "successRedirectionUrl", "failureRedirectionUrl"),
            *_invalid("x-partner-session-id", "x-onboarding-partner", *_HEADERS[1:]),
            *_invalid("flow", "source", "successRedirectionUrl", "failureRedirectionUrl", "theme"),
            *_invalid("additionalDetails", "referenceImageUrl", "userLocale", "allowQr", "forceQr"),
            e.InvalidFieldError("portraitOnly"),
            e.DuplicatePartnerSessionError(),
            e.RequestError(),
            e.UnauthorizedError(),
            e.OnboardingPartnerMismatchError(),
            _RATE,
            _UNEXPECTED,
        ],
        request=schemas.InitiateFlowRequest,
        request_example=examples.INITIATE_REQUEST,
        example=examples.INITIATE,
    ),
    Surface.PRESIGN: Operation(
        _USER,
        [
            *_missing("x-partner-session-id", "x-sdk-session-id"),
            *_invalid("x-partner-session-id", "x-sdk-session-id"),
            e.InvalidSubmissionTypeError(),
            e.UnauthorizedError(),
            e.ForbiddenError(),
            e.SubmissionStateConflictError(),
            e.SubmissionQuotaExceededError(),
            _RATE,
            _UNEXPECTED,
        ],
        example=examples.PRESIGNED,
    ),
    Surface.UPLOAD: Operation(
        (),
        [
            e.UnauthorizedError(),
            e.SubmissionNotFoundError(),
            e.SubmissionStateConflictError(),
            e.UploadTooLargeError(),
            e.InvalidUploadArtifactError(),
            e.PartnerBusyError(1),
            _UNEXPECTED,
        ],
        example=examples.UPLOADED,
    ),
    Surface.CONFIRM: Operation(
        _USER,
        [
            *_missing("x-partner-session-id", "x-sdk-session-id"),
            e.InvalidConfirmRequestError(),
            e.UnauthorizedError(),
            e.ForbiddenError(),
            e.SubmissionNotFoundError(),
            e.SubmissionStateConflictError(),
            e.InvalidUploadArtifactError(),
            _RATE,
            _UNEXPECTED,
        ],
        request=schemas.ConfirmRequest,
        request_example=examples.CONFIRM_REQUEST,
        example=examples.CONFIRMED,
    ),
    Surface.STATUS: Operation(
        _USER,
        [
            *_missing("x-partner-session-id", "x-sdk-session-id"),
            e.InvalidSubmissionIdError(),
            e.UnauthorizedError(),
            e.SubmissionNotFoundError(),
            _RATE,
            _UNEXPECTED,
        ],
        example=examples.STATUS,
    ),
    Surface.DETAILS: Operation(
        ("x-onekyc-token",),
        [
            e.MissingFieldError("x-partner-session-id", code="PARTNER_SESSION_ID_CANNOT_BE_EMPTY"),
            *_missing("partner-user-id", "partner-user-id-type"),
            e.SubmissionNotFoundError(),
            e.SessionUserMismatchError(),
            e.UnauthorizedError(),
            _RATE,
            _UNEXPECTED,
        ],
        example=examples.DETAILS,
    ),
    Surface.FACE_MATCH: Operation(
        ("x-onekyc-token", "x-partner-session-id", "x-partner-user-id", "x-partner-user-id-type"),
        [
            *_missing(*_HEADERS, "selfie", "reference"),
            *_invalid(*_HEADERS),
            *_invalid("selfie", "reference", "body"),
            e.DuplicatePartnerSessionError(),
            e.UnauthorizedError(),
            e.OnboardingPartnerMismatchError(),
            e.UploadTooLargeError(),
            _RATE,
            e.PartnerBusyError(1),
            e.ServiceUnavailableError(),
            _UNEXPECTED,
        ],
        example=examples.FACE_MATCH,
    ),
    Surface.IMAGE: Operation((), [e.UnauthorizedError(), e.SubmissionNotFoundError(), _UNEXPECTED]),
    Surface.FINISH: Operation(
        ("x-onekyc-token", "x-partner-session-id"),
        [
            *_missing("x-partner-session-id"),
            e.SubmissionNotFoundError(),
            e.UnauthorizedError(),
            e.SubmissionStateConflictError(),
            _RATE,
            _UNEXPECTED,
        ],
        example=examples.FINISHED,
    ),
}

#: Query parameters the contract requires.
REQUIRED_QUERY = {
    Surface.PRESIGN: ("submissionType",),
    Surface.UPLOAD: ("signature",),
    Surface.IMAGE: ("signature",),
}

_FACE_MATCH_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["selfie", "reference"],
                "properties": {
                    "selfie": {"type": "string", "format": "binary"},
                    "reference": {"type": "string", "format": "binary"},
                },
            }
        },
        "application/json": {"schema": {"$ref": "#/components/schemas/FaceMatchJson"}},
    },
}
_IMAGE_BODY = {
    "required": True,
    "description": "The raw image bytes: JPEG, PNG, WebP or HEIC, at most `maxBytes`. The content type may "
    "also be the image's own (`image/jpeg`, `image/png`, `image/webp`, `image/heic`).",
    "content": {
        media: {"schema": {"type": "string", "format": "binary"}} for media in ("application/octet-stream",)
    },
}
_IMAGE_RESPONSE = {
    "description": "The stored selfie (re-encoded from its pixels).",
    "content": {
        media: {"schema": {"type": "string", "format": "binary"}} for media in ("image/jpeg", "image/png")
    },
}


def _error_examples(surface: Surface, errors: list[e.FacematchError]) -> dict[int, dict[str, Any]]:
    """status → {cause: the envelope the service sends}, through the same table and envelope."""
    by_status: dict[int, dict[str, Any]] = {}
    for error in errors:
        spec = lookup(error, surface)
        cause = spec.cause or error.code
        body = json.loads(bytes(envelope(spec.status, spec.code, cause, surface).body))
        by_status.setdefault(spec.status, {})[cause] = {
            "summary": f"{body['errors'][0]['code']} {cause}",
            "value": body,
        }
    return by_status


def _error_responses(surface: Surface, errors: list[e.FacematchError]) -> dict[str, Any]:
    model = "ErrorEnvelopeIntegerCode" if surface in INTEGER_CODES else "ErrorEnvelope"
    responses: dict[str, Any] = {}
    for status, found in sorted(_error_examples(surface, errors).items()):
        rows = ", ".join(f"`{example['summary']}`" for example in found.values())
        responses[str(status)] = {
            "description": f"code/cause: {rows}",
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}, "examples": found}
            },
        }
    return responses


def _add_components(document: dict[str, Any], models: list[type[BaseModel]]) -> None:
    _, defs = models_json_schema(
        [(model, "validation") for model in models], ref_template="#/components/schemas/{model}"
    )
    document.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))


def operation_id(route: APIRoute) -> str:
    """Operation ids are the route names (``submission_details``, ...): what a generated client calls."""
    return route.name


def _patch(document: dict[str, Any]) -> None:
    _add_components(
        document,
        [
            schemas.ErrorEnvelope,
            schemas.ErrorEnvelopeIntegerCode,
            schemas.InitiateFlowRequest,
            schemas.ConfirmRequest,
            schemas.FaceMatchJson,
        ],
    )
    for operations in document["paths"].values():
        for operation in operations.values():
            operation["responses"].pop("422", None)
            try:
                surface = Surface(operation["operationId"])
            except ValueError:
                continue
            _patch_operation(operation, surface)
    for operations in document.get("webhooks", {}).values():
        for operation in operations.values():
            operation["responses"] = {"200": {"description": "Any 2xx: delivered (else retried)"}}
    for unused in ("HTTPValidationError", "ValidationError"):
        document["components"]["schemas"].pop(unused, None)


def _patch_operation(operation: dict[str, Any], surface: Surface) -> None:
    doc = OPERATIONS[surface]
    required = {*doc.required_headers, *REQUIRED_QUERY.get(surface, ())}
    for parameter in operation.get("parameters", []):
        if parameter["in"] in ("header", "query") and parameter["name"] in required:
            parameter["required"] = True
            types = parameter["schema"].pop("anyOf", None)  # a required value is never null
            if types:
                parameter["schema"].update(next(t for t in types if t.get("type") != "null"))
    operation["responses"].update(_error_responses(surface, doc.errors))
    if doc.request is not None:
        content: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{doc.request.__name__}"}}
        if doc.request_example is not None:
            content["example"] = doc.request_example
        operation["requestBody"] = {"required": True, "content": {"application/json": content}}
    if surface is Surface.FACE_MATCH:
        operation["requestBody"] = _FACE_MATCH_BODY
    if surface is Surface.UPLOAD:
        operation["requestBody"] = _IMAGE_BODY
    if surface is Surface.IMAGE:
        operation["responses"]["200"] = _IMAGE_RESPONSE
    if doc.example is not None:
        operation["responses"]["200"]["content"]["application/json"]["example"] = doc.example


def install(app: FastAPI) -> None:
    """Typed document at ``/openapi.json`` and Swagger UI at ``/docs`` (no CDN)."""

    @app.webhooks.post("submission.completed", operation_id="submission_completed", tags=["callbacks"])
    def submission_completed(body: schemas.DetailsData) -> None:
        """The completion callback we send to the partner's callback URL once an attempt is final:
        the Get Submission Details ``data`` without image URLs, with the partner's method (POST, PUT
        or PATCH), signed as Standard Webhooks (`webhook-id`, `webhook-timestamp`,
        `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>` with the partner's
        `whsec_` secret). Answer 2xx; retries keep the same `webhook-id`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                webhooks=app.webhooks.routes,
            )
            _patch(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} API",
            swagger_js_url="/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/favicon.ico",
        )

    @app.get("/docs/static/{name}", include_in_schema=False)
    def docs_asset(name: str) -> Response:
        if name not in DOCS_ASSETS:
            return Response(status_code=404)
        data = (resources.files("fastapi_offline") / "static" / name).read_bytes()
        return Response(
            data, media_type=DOCS_ASSETS[name], headers={"Cache-Control": "public, max-age=86400"}
        )
