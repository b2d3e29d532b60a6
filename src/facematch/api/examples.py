"""The README's walk-through bodies, shown in ``/docs`` (a test checks each against its model)."""

from __future__ import annotations

from typing import Any

_SID = "bf73b5af-9d8b-45c5-ab63-e095d66df8c6"
_BASE = "http://127.0.0.1:8000"
_JWT = "eyJhbGciOiJI…"

PARTNER_TOKEN: dict[str, Any] = {
    "success": True,
    "data": {"token": _JWT, "expiry_seconds": "3600", "expires_at": "1795751274"},
}
USER_TOKEN: dict[str, Any] = {
    "success": True,
    "data": {"token": _JWT, "expiry_seconds": "5184000", "expires_at": "1800931674"},
}


def _slot(doc: str) -> dict[str, str]:
    return {
        "documentUrl": f"{_BASE}/coe/v1/submissions/{_SID}/documents/{doc}?signature={_JWT}",
        "documentReference": f"{_SID}/{doc}",
        "expiryInSeconds": "600",
        "method": "PUT",
        "maxBytes": "15728640",
    }


PRESIGNED: dict[str, Any] = {
    "success": True,
    "data": {
        "submissionId": _SID,
        "status": "INITIATED",
        "documents": {"SELFIE": _slot("SELFIE"), "REFERENCE": _slot("REFERENCE")},
    },
}
UPLOADED: dict[str, Any] = {
    "success": True,
    "data": {"documentReference": f"{_SID}/SELFIE", "status": "UPLOADED"},
}
CONFIRM_REQUEST: dict[str, Any] = {"submissionId": _SID, "metadata": {"channel": "backend"}}
CONFIRMED: dict[str, Any] = {
    "success": True,
    "data": {
        "submissionId": _SID,
        "uiMessages": {"message_1": {"title": "Processing", "message": "Your photo is being verified."}},
    },
}
STATUS: dict[str, Any] = {
    "success": True,
    "data": {
        "submissionId": _SID,
        "status": "COMPLETED",
        "reviewRequired": False,
        "submissionType": "FACE_MATCH",
        "createdAt": "2026-11-27T02:47:54.856Z",
        "completedAt": "2026-11-27T02:47:55.765Z",
        "verificationResult": {"isApproved": True, "riskLevel": "LOW"},
        "result": "VALID",
        "reasonCode": "",
        "errorMessage": None,
        "documents": {
            "SELFIE": {"status": "VERIFIED", "documentReference": f"{_SID}/SELFIE"},
            "REFERENCE": {"status": "VERIFIED", "documentReference": f"{_SID}/REFERENCE"},
        },
        "nextAction": "STATUS",
        "attemptsUsed": 1,
        "attemptsRemaining": 0,
    },
}


def _details(result: str, reason: str, score: float, match: bool, sid: str, psid: str) -> dict[str, Any]:
    return {
        "success": True,
        "data": {
            "status": "COMPLETED",
            "submissionId": sid,
            "flow": "FACE_MATCH",
            "partnerSessionId": psid,
            "userId": "user-42",
            "userIdType": "MY_USER_ID",
            "result": result,
            "reasonCode": reason,
            "processedAt": "2026-11-27T02:47:55.765Z",
            "submissionDetails": {
                "verificationResults": {
                    "faceMatch": {
                        "score": score,
                        "result": match,
                        "version": "yunet-2023mar-int8bq+sface-2021dec-int8bq",
                        "threshold": 0.363,
                        "far": 0.001,
                        "decidedBy": "ENGINE",
                        "calibrationBand": "general",
                    },
                    "referenceImageValidation": {
                        "ktp": {"verificationResult": True, "verificationReasonCode": ""}
                    },
                },
                "imageUrls": {"selfie": f"{_BASE}/coe/v1/submissions/{sid}/images/selfie?signature={_JWT}"},
            },
        },
    }


DETAILS = _details("VALID", "", 0.9988493697074485, True, _SID, "order-1001")
FACE_MATCH = _details(
    "INVALID",
    "FACE_MATCH_FAILED",
    0.10009438768409673,
    False,
    "4a177d11-9761-4f4a-bc4a-408efc4e4b95",
    "order-1001-now",
)
FINISHED = _details(
    "INVALID",
    "FACE_MATCH_FAILED",
    0.10009438768409673,
    False,
    "4a177d11-9761-4f4a-bc4a-408efc4e4b95",
    "order-1001-sdk",
)
INITIATE_REQUEST: dict[str, Any] = {
    "flow": "FACE_MATCH",
    "source": "WEB_SDK",
    "successRedirectionUrl": "https://partner.example/done",
    "failureRedirectionUrl": "https://partner.example/failed",
    "theme": "NO_PREFERENCE",
    "additionalDetails": {
        "referenceImageUrl": "http://127.0.0.1:8001/reference-image/zXb3mQ0nV7ErTq1k9aYw2Q",
        "userLocale": "en_ID",
        "allowQr": True,
        "forceQr": False,
        "portraitOnly": True,
    },
}
INITIATE: dict[str, Any] = {
    "success": True,
    "data": {
        "expirySeconds": "5184000",
        "expiresAt": "1800931677",
        "launchUrl": f"{_BASE}/web/index.html#/launch-v1?token={_JWT}",
    },
}
