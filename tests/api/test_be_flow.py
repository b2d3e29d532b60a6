"""Backend-to-backend Face Match through real HTTP: tokens, presign, upload, confirm, status, details."""

from __future__ import annotations

import io
import uuid

import httpx
import pytest
from PIL import Image

from facematch.engine.fake import fake_face_image
from partner_client import Api, make_api
from servicekit import ONBOARDING, LiveServer, Receiver

from .conftest import signed_callback


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


@pytest.mark.parametrize("user_id", ["José", "Siti Nurhaliza binti Ñ", "王小明", "ユーザー🙂"])
def test_utf8_user_ids_are_echoed_byte_for_byte(live: LiveServer, hooks: Receiver, user_id: str) -> None:
    """Partners send UTF-8 ids in headers; they come back exactly, in the details, the compare's
    answer and the signed callback, by the user-token, Initiate Flow and compare-now paths."""
    api = make_api(live, callback_url=hooks.url + "/hook")
    user_headers = {
        "x-partner-user-id": user_id.encode(),
        "x-partner-user-id-type": b"NAMA_LENGKAP",
        "x-onboarding-partner": ONBOARDING.encode(),
    }
    try:
        credentials = {"client-id": api.creds.client_id, "pass-key": api.creds.passkey}
        token = api.http.get("/v2/coe/authentication", headers={**credentials, **user_headers})
        assert token.status_code == 200, token.text
        _, psid, _ = api.run_be_flow(
            fake_face_image(1), fake_face_image(1), token=token.json()["data"]["token"]
        )
        assert signed_callback(api, hooks, psid)["userId"] == user_id
        assert api.details(x_partner_session_id=psid).json()["data"]["userId"] == user_id

        initiated_psid = str(uuid.uuid4())
        initiated = api.http.post(
            "/coe-partner/v1/initiate-flow",
            headers={
                "x-onekyc-token": api.partner_token(),
                "x-partner-session-id": initiated_psid,
                **user_headers,
            },
            json={"flow": "FACE_MATCH", "source": "SDK"},
        )
        assert initiated.status_code == 200, initiated.text
        initiated_token = initiated.json()["data"]["token"]
        api.run_be_flow(fake_face_image(1), fake_face_image(1), psid=initiated_psid, token=initiated_token)
        assert signed_callback(api, hooks, initiated_psid)["userId"] == user_id

        compare_psid = f"pesanan-{uuid.uuid4().hex[:8]}-ñ"  # the session id is a header too
        compared = api.http.post(
            "/coe-partner/v1/face-match",
            headers={
                "x-onekyc-token": api.partner_token(),
                "x-partner-session-id": compare_psid.encode(),
                **user_headers,
            },
            files={
                "selfie": ("s.png", fake_face_image(1), "image/png"),
                "reference": ("r.png", fake_face_image(1), "image/png"),
            },
        )
        assert compared.status_code == 200, compared.text
        data = compared.json()["data"]
        assert (data["userId"], data["partnerSessionId"]) == (user_id, compare_psid)
        assert signed_callback(api, hooks, compare_psid)["partnerSessionId"] == compare_psid
    finally:
        api.http.close()


def test_a_user_id_that_is_not_utf8_is_refused(api: Api) -> None:
    headers = {
        "client-id": api.creds.client_id,
        "pass-key": api.creds.passkey,
        "x-partner-user-id": b"Jos\xe9",  # Latin-1 bytes, not UTF-8
        "x-partner-user-id-type": b"T",
        "x-onboarding-partner": ONBOARDING.encode(),
    }
    refused = api.http.get("/v2/coe/authentication", headers=headers)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["cause"] == "INVALID_PARTNER_USER_ID"
