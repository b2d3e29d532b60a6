"""Sandbox partners over real HTTP: forced outcomes through the whole pipeline, real signed callbacks,
``environment: sandbox`` on every result, and no crossing between sandbox and production."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from facematch.engine.fake import fake_face_image
from facematch.rules import sandbox
from facematch.storage.models import Partner
from partner_client import Api, make_api
from servicekit import LiveServer, Receiver

from .conftest import signed_callback
from .test_results import face_match

#: x-partner-user-id → (status, result, reasonCode) it forces.
FORCED = {
    "sandbox-valid": ("COMPLETED", "VALID", ""),
    "sandbox-face-mismatch": ("COMPLETED", "INVALID", "FACE_MATCH_FAILED"),
    "sandbox-invalid-selfie": ("COMPLETED", "INVALID", "INVALID_DOCUMENT"),
    "sandbox-reference-not-found": ("COMPLETED", "INVALID", "DOCUMENT_NOT_FOUND"),
    "sandbox-reference-invalid": ("COMPLETED", "INVALID", "REFERENCE_IMAGE_VALIDATION_FAILED"),
    "sandbox-error": ("ERROR", None, "VERIFICATION_FAILED"),
}


@pytest.fixture
def sandboxed(live: LiveServer, hooks: Receiver) -> Iterator[Api]:
    client = make_api(live, sandbox=True, callback_url=hooks.url + "/hook")
    yield client
    client.http.close()


def test_each_forced_outcome_runs_the_pipeline_and_calls_back(sandboxed: Api, hooks: Receiver) -> None:
    api = sandboxed
    for user, (status, result, reason) in FORCED.items():
        # the same person on both images: only the user id decides
        token, psid, submission_id = api.run_be_flow(fake_face_image(1), fake_face_image(1), user=user)
        decided = api.wait_decided(token, psid, submission_id)
        assert decided["environment"] == "sandbox", user
        data = api.details(x_submission_id=submission_id).json()["data"]
        assert (data["status"], data.get("result"), data["reasonCode"]) == (status, result, reason), user
        assert data["environment"] == "sandbox" and data["userId"] == user
        if status == "COMPLETED":
            assert data["submissionDetails"].get("sandbox") == {"forcedOutcome": user}, (user, data)
        payload = signed_callback(api, hooks, psid)
        assert (payload["status"], payload.get("result"), payload["environment"]) == (
            status,
            result,
            "sandbox",
        )


def test_other_users_of_a_sandbox_get_the_real_verdict(sandboxed: Api) -> None:
    token, psid, submission_id = sandboxed.run_be_flow(fake_face_image(1), fake_face_image(2))
    sandboxed.wait_decided(token, psid, submission_id)
    data = sandboxed.details(x_submission_id=submission_id).json()["data"]
    assert (data["reasonCode"], data["environment"]) == ("FACE_MATCH_FAILED", "sandbox")
    face = data["submissionDetails"]["verificationResults"]["faceMatch"]
    assert face["version"] == "fake-1" and "sandbox" not in data["submissionDetails"]


def test_a_production_partner_is_never_forced(api: Api) -> None:
    token, psid, submission_id = api.run_be_flow(fake_face_image(1), fake_face_image(2), user="sandbox-valid")
    api.wait_decided(token, psid, submission_id)
    data = api.details(x_submission_id=submission_id).json()["data"]
    assert (data["result"], data["reasonCode"]) == ("INVALID", "FACE_MATCH_FAILED")
    assert "environment" not in data


def test_sandbox_slow_holds_the_decision_back(sandboxed: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "SLOW_DELAY_S", 2.0)
    started = time.monotonic()
    token, psid, submission_id = sandboxed.run_be_flow(
        fake_face_image(1), fake_face_image(1), user=sandbox.SLOW_USER_ID
    )
    decided = sandboxed.wait_decided(token, psid, submission_id)
    assert decided["result"] == "VALID" and time.monotonic() - started >= 2.0
    compare_started = time.monotonic()
    headers = {
        "x-onekyc-token": sandboxed.partner_token(),
        "x-partner-session-id": str(uuid.uuid4()),
        "x-partner-user-id": sandbox.SLOW_USER_ID,
        "x-partner-user-id-type": "TEST_ID",
    }
    files = {"selfie": fake_face_image(3), "reference": fake_face_image(3)}
    answer = sandboxed.http.post("/coe-partner/v1/face-match", headers=headers, files=files)
    assert answer.json()["data"]["environment"] == "sandbox"
    assert time.monotonic() - compare_started >= 2.0


def test_the_synchronous_compare_is_forced_too(sandboxed: Api) -> None:
    psid = str(uuid.uuid4())
    headers = {"x-onekyc-token": sandboxed.partner_token(), "x-partner-session-id": psid}
    headers |= {"x-partner-user-id": "sandbox-error", "x-partner-user-id-type": "TEST_ID"}
    files = {"selfie": fake_face_image(3), "reference": fake_face_image(3)}
    data = sandboxed.http.post("/coe-partner/v1/face-match", headers=headers, files=files).json()["data"]
    assert (data["status"], data["reasonCode"], data["environment"]) == (
        "ERROR",
        "VERIFICATION_FAILED",
        "sandbox",
    )
    real = face_match(sandboxed, str(uuid.uuid4()), files=files).json()["data"]
    assert (real["result"], real["environment"]) == ("VALID", "sandbox")


def test_a_session_never_changes_environment(sandboxed: Api) -> None:
    psid = str(uuid.uuid4())
    token = sandboxed.user_token()
    assert sandboxed.presign(token, psid).status_code == 200
    with sandboxed.server.services.db.session() as session:
        session.get(Partner, sandboxed.creds.partner_id).sandbox = False  # type: ignore[union-attr]
    refused = sandboxed.presign(token, psid)
    assert refused.status_code == 403 and refused.json()["errors"][0]["cause"] == "FORBIDDEN"
