"""Partner-token endpoints: Initiate Flow, Get Submission Details, and the synchronous face match."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Body, Request
from starlette.concurrency import run_in_threadpool

from facematch.api.deps import (
    OnboardingPartner,
    OneKycToken,
    PartnerSessionId,
    PartnerUserId,
    PartnerUserIdType,
    SubmissionIdHeader,
    Svc,
    ok,
)
from facematch.api.errors import Surface
from facematch.api.schemas import DetailsResponse, InitiateFlowResponse
from facematch.errors import InvalidFieldError, UploadTooLargeError
from facematch.flows import direct, flow_sessions, initiate, results
from facematch.outbound.reference import decode_base64_image
from facematch.rules import sandbox

router = APIRouter(tags=["partner"])


@router.post(
    "/coe-partner/v1/initiate-flow",
    name=Surface.INITIATE,
    response_model=InitiateFlowResponse,
    response_model_exclude_unset=True,
)
def initiate_flow(
    svc: Svc,
    token: OneKycToken = None,
    onboarding_partner: OnboardingPartner = None,
    partner_user_id: PartnerUserId = None,
    partner_user_id_type: PartnerUserIdType = None,
    partner_session_id: PartnerSessionId = None,
    body: dict[str, Any] = Body(default_factory=dict),  # noqa: B008
) -> dict[str, Any]:
    """Initiate Flow (``flow: FACE_MATCH``): ``source: SDK`` → user ``token``; ``WEB_SDK`` → ``launchUrl``."""
    result = initiate.initiate_flow(
        svc,
        initiate.InitiateRequest(
            token, onboarding_partner, partner_user_id, partner_user_id_type, partner_session_id, body
        ),
    )
    data: dict[str, Any] = {"expirySeconds": str(result.expiry_seconds), "expiresAt": str(result.expires_at)}
    if result.token is not None:
        data["token"] = result.token
    else:
        data["launchUrl"] = result.launch_url
    return ok(data)


@router.get(
    "/coe/v1/submissions",
    name=Surface.DETAILS,
    response_model=DetailsResponse,
    response_model_exclude_unset=True,
)
@router.get("/coe-partner/v1/submissions", name=Surface.DETAILS, include_in_schema=False)
def submission_details(
    svc: Svc,
    token: OneKycToken = None,
    partner_session_id: PartnerSessionId = None,
    submission_id: SubmissionIdHeader = None,
    partner_user_id: PartnerUserId = None,
    partner_user_id_type: PartnerUserIdType = None,
) -> dict[str, Any]:
    """Get Submission Details (partner token) by ``x-submission-id`` or ``x-partner-session-id``."""
    request = results.DetailsRequest(
        token, partner_session_id, submission_id, partner_user_id, partner_user_id_type
    )
    return ok(results.details(svc, request))


def _b64(name: str, value: Any) -> bytes | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidFieldError(name)
    try:
        return decode_base64_image(value)
    except ValueError:
        raise InvalidFieldError(name) from None


@router.post(
    "/coe-partner/v1/face-match",
    name=Surface.FACE_MATCH,
    response_model=DetailsResponse,
    response_model_exclude_unset=True,
)
async def face_match(
    request: Request,
    svc: Svc,
    token: OneKycToken = None,
    partner_session_id: PartnerSessionId = None,
    onboarding_partner: OnboardingPartner = None,
    partner_user_id: PartnerUserId = None,
    partner_user_id_type: PartnerUserIdType = None,
) -> dict[str, Any]:
    """Compare now: multipart ``selfie`` + ``reference`` files, or JSON with base64 ``selfie`` and
    ``reference``; answers with the Get Submission Details ``data`` (the attempt is recorded)."""
    await run_in_threadpool(direct.refuse_when_busy, svc, token)  # before the images are read
    cap = svc.settings.engine.max_image_bytes
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    selfie: bytes | None = None
    reference: bytes | None = None
    if media == "multipart/form-data":
        # a part's size is ours to judge (413, as for a file part); the body's own cap bounds it
        form = await request.form(max_files=2, max_fields=4, max_part_size=svc.settings.server.max_body_bytes)
        try:
            parts: dict[str, bytes | None] = {}
            for name in ("selfie", "reference"):
                item = form.get(name)
                if item is None or isinstance(item, str):
                    data = item.encode() if isinstance(item, str) and item else None
                    if data is not None and len(data) > cap:
                        raise UploadTooLargeError(f"{name} exceeds {cap} bytes")
                    parts[name] = data
                    continue
                data = await item.read(cap + 1)
                if len(data) > cap:
                    raise UploadTooLargeError(f"{name} exceeds {cap} bytes")
                parts[name] = data
            selfie, reference = parts["selfie"], parts["reference"]
        finally:
            await form.close()
    else:
        try:
            body = await request.json()
        except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
            body = None
        if not isinstance(body, dict):
            raise InvalidFieldError("body", "expected multipart/form-data or a JSON object")
        selfie, reference = _b64("selfie", body.get("selfie")), _b64("reference", body.get("reference"))
    asked = direct.DirectMatchRequest(
        token,
        partner_session_id,
        onboarding_partner,
        partner_user_id,
        partner_user_id_type,
        selfie,
        reference,
    )
    answer = await run_in_threadpool(direct.face_match_now, svc, asked)
    if sandbox.is_slow(answer.get("environment") == sandbox.ENVIRONMENT, answer.get("userId")):
        await anyio.sleep(sandbox.SLOW_DELAY_S)  # holds no thread while it waits
    return ok(answer)


@router.post(
    "/coe-partner/v1/sessions/finish",
    name=Surface.FINISH,
    response_model=DetailsResponse,
    response_model_exclude_unset=True,
)
def finish_session(
    svc: Svc, token: OneKycToken = None, partner_session_id: PartnerSessionId = None
) -> dict[str, Any]:
    """Finish a session now (our extension): no more attempts; the last decided attempt becomes the
    final result, with its one callback. Answers with the Get Submission Details ``data``."""
    return ok(flow_sessions.finish(svc, flow_sessions.FinishRequest(token, partner_session_id)))
