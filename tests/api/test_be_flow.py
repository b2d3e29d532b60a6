"""Backend-to-backend Face Match through real HTTP: tokens, presign, upload, confirm, status, details."""

from __future__ import annotations

import io

import httpx
from PIL import Image

from facematch.engine.fake import fake_face_image
from partner_client import Api


def test_matching_faces_complete_valid(api: Api, images: dict[str, bytes]) -> None:
    token, psid, submission_id = api.run_be_flow(images["alice"], images["alice2"])
    status = api.wait_decided(token, psid, submission_id)
    assert status["status"] == "COMPLETED"
    assert status["verificationResult"] == {"isApproved": True, "riskLevel": "LOW"}
    assert status["nextAction"] == "STATUS"
    details = api.details(x_submission_id=submission_id)
    assert details.status_code == 200, details.text
    data = details.json()["data"]
    assert data["status"] == "COMPLETED" and data["result"] == "VALID" and data["reasonCode"] == ""
    assert data["flow"] == "FACE_MATCH" and data["partnerSessionId"] == psid
    face = data["submissionDetails"]["verificationResults"]["faceMatch"]
    assert face["result"] is True and face["score"] == 0.9 and face["version"] == "fake-1"
    assert face["threshold"] == 0.5 and face["far"] == 1e-3
    selfie = httpx.get(data["submissionDetails"]["imageUrls"]["selfie"])
    assert selfie.status_code == 200 and selfie.content[:4] == b"\x89PNG"


def test_different_faces_face_match_failed(api: Api, images: dict[str, bytes]) -> None:
    token, psid, submission_id = api.run_be_flow(images["alice"], images["bob"])
    api.wait_decided(token, psid, submission_id)
    data = api.details(x_partner_session_id=psid).json()["data"]
    assert (data["status"], data["result"], data["reasonCode"]) == (
        "COMPLETED",
        "INVALID",
        "FACE_MATCH_FAILED",
    )


def test_stored_images_are_clean_derivatives(api: Api) -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (120, 90, 60)).save(buffer, format="JPEG", exif=exif.tobytes())
    selfie = buffer.getvalue() + b"<html><script>alert(1)</script></html>"
    token, psid, submission_id = api.run_be_flow(selfie, fake_face_image(1))
    api.wait_decided(token, psid, submission_id)
    url = api.details(x_submission_id=submission_id).json()["data"]["submissionDetails"]["imageUrls"][
        "selfie"
    ]
    stored = httpx.get(url)
    assert stored.headers["content-type"] == "image/jpeg" and stored.headers["cache-control"] == "no-store"
    assert b"<script>" not in stored.content and b"PhoneMaker" not in stored.content
    assert not Image.open(io.BytesIO(stored.content)).getexif()
