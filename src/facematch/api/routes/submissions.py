"""User-token submission endpoints (both ``/coe/`` and ``/coe-partner/`` prefixes) and the signed
upload and image URLs that facematch serves itself."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from facematch.api.deps import OneKycToken, PartnerSessionId, SdkSessionId, Svc, ok, read_capped_body
from facematch.api.errors import Surface
from facematch.api.schemas import ConfirmResponse, PresignedResponse, StatusResponse, UploadResponse
from facematch.config import Settings
from facematch.engine.images import sniff_format
from facematch.engine.liveness import VERSION as LIVENESS_VERSION
from facematch.engine.liveness import Challenge
from facematch.errors import InvalidUploadArtifactError
from facematch.flows import liveness, results, submissions
from facematch.rules.states import DocumentStatus, DocumentType

router = APIRouter(tags=["submissions"])


@router.get(
    "/coe/v1/submissions/urls",
    name=Surface.PRESIGN,
    response_model=PresignedResponse,
    response_model_exclude_unset=True,
)
@router.get("/coe-partner/v1/submissions/urls", name=Surface.PRESIGN, include_in_schema=False)
def presigned_urls(
    svc: Svc,
    token: OneKycToken = None,
    partner_session_id: PartnerSessionId = None,
    sdk_session_id: SdkSessionId = None,
    submission_type: str | None = Query(default=None, alias="submissionType"),
) -> dict[str, Any]:
    """Get Presigned URLs: ``documents.SELFIE`` and ``documents.REFERENCE``, each a signed PUT URL."""
    request = submissions.UserRequest(token, partner_session_id, sdk_session_id)
    presigned = submissions.presign(svc, request, submission_type)
    documents = {
        doc: {
            "documentUrl": slot.url,
            "documentReference": slot.reference,
            "expiryInSeconds": str(slot.expiry_seconds),
            "method": "PUT",
            "maxBytes": str(slot.max_bytes),
        }
        for doc, slot in presigned.documents.items()
    }
    data = {"submissionId": presigned.submission_id, "status": presigned.status, "documents": documents}
    if presigned.challenge is not None:
        data["liveness"] = liveness_challenge(presigned.challenge, svc.settings)
    return ok(data)


def liveness_challenge(challenge: Challenge, settings: Settings) -> dict[str, Any]:
    """The challenge as a backend partner reads it (``data.liveness`` of Get Presigned URLs)."""
    return {
        "version": LIVENESS_VERSION,
        "nonce": challenge.nonce,
        "moves": [move.value for move in challenge.moves],
        "moveWithinSeconds": challenge.steps[0].within_s,
        "issuedAt": liveness.iso(challenge.issued_at),
        "deadline": liveness.iso(challenge.deadline),
        "clip": {
            "formats": list(liveness.CLIP_FORMATS),
            "maxBytes": settings.liveness.clip_max_bytes,
            "maxSeconds": settings.liveness.clip_max_s,
        },
    }


@router.put(
    "/coe/v1/submissions/urls",
    name=Surface.CONFIRM,
    response_model=ConfirmResponse,
    response_model_exclude_unset=True,
)
@router.put("/coe-partner/v1/submissions/urls", name=Surface.CONFIRM, include_in_schema=False)
def confirm_upload(
    svc: Svc,
    token: OneKycToken = None,
    partner_session_id: PartnerSessionId = None,
    sdk_session_id: SdkSessionId = None,
    body: Any = Body(default=None),  # noqa: B008
) -> dict[str, Any]:
    """Confirm Upload ``{submissionId, metadata}``: processing is queued durably before the answer."""
    request = submissions.UserRequest(token, partner_session_id, sdk_session_id)
    submission_id = submissions.confirm(svc, request, body)
    ui = {"message_1": {"title": "Processing", "message": "Your photo is being verified."}}
    return ok({"submissionId": submission_id, "uiMessages": ui})


@router.get(
    "/coe/v1/submissions/{submission_id}/status",
    name=Surface.STATUS,
    response_model=StatusResponse,
    response_model_exclude_unset=True,
)
@router.get(
    "/coe-partner/v1/submissions/{submission_id}/status", name=Surface.STATUS, include_in_schema=False
)
def submission_status(
    submission_id: str,
    svc: Svc,
    token: OneKycToken = None,
    partner_session_id: PartnerSessionId = None,
    sdk_session_id: SdkSessionId = None,
) -> dict[str, Any]:
    """Get Submission Status (user token), plus ``nextAction`` (RETRY / STATUS / EXIT)."""
    request = submissions.UserRequest(token, partner_session_id, sdk_session_id)
    return ok(submissions.status(svc, request, submission_id))


@router.put(
    "/coe/v1/submissions/{submission_id}/documents/{document_type}",
    name=Surface.UPLOAD,
    response_model=UploadResponse,
    response_model_exclude_unset=True,
)
async def upload_document(
    submission_id: str,
    document_type: str,
    request: Request,
    svc: Svc,
    signature: str | None = Query(default=None),
) -> dict[str, Any]:
    """The presigned upload target: the raw image bytes as the body (JPEG, PNG, WebP or HEIC); for
    ``LIVENESS``, the challenge clip (WebM, MP4 or MJPEG) with its nonce in ``x-liveness-nonce``."""
    if document_type not in submissions.DOCUMENT_TYPES:
        raise InvalidUploadArtifactError("unknown document type")
    clip = document_type == DocumentType.LIVENESS
    cap = svc.settings.liveness.clip_max_bytes if clip else svc.settings.engine.max_image_bytes
    body = await read_capped_body(request, cap)
    reference = await run_in_threadpool(
        submissions.upload,
        svc,
        submission_id,
        document_type,
        signature,
        body,
        request.headers.get("content-type"),
        request.headers.get("x-liveness-nonce"),
    )
    return ok({"documentReference": reference, "status": DocumentStatus.UPLOADED})


@router.get("/coe/v1/submissions/{submission_id}/images/selfie", name=Surface.IMAGE)
def selfie_image(submission_id: str, svc: Svc, signature: str | None = Query(default=None)) -> Response:
    """The selfie behind ``submissionDetails.imageUrls.selfie`` (signed, short-lived, partner only)."""
    image = results.selfie_image(svc, submission_id, signature)
    return Response(
        image,
        media_type=f"image/{sniff_format(image) or 'jpeg'}",
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )
