"""Result rules, the reference image URL, next actions and attempts, and the synchronous compare."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from facematch.engine.fake import FakeEngine, fake_face_image
from facematch.engine.types import FaceAnalysis, MatchResult
from facematch.flows import flow_sessions
from facematch.storage.models import FlowSession, OutboxMessage, Submission
from partner_client import Api, make_api
from servicekit import LiveServer, ReceivedRequest, Receiver, live_app


@pytest.fixture
def reference_server() -> Iterator[Receiver]:
    def respond(_: Receiver, request: ReceivedRequest) -> tuple[int, dict[str, str], bytes]:
        if request.path.startswith("/ref/png"):
            return 200, {"content-type": "image/png"}, fake_face_image(1)
        if request.path.startswith("/ref/json"):
            body = json.dumps({"image": base64.b64encode(fake_face_image(1)).decode()}).encode()
            return 200, {"content-type": "application/json"}, body
        if request.path.startswith("/ref/noface"):
            return 200, {"content-type": "image/png"}, fake_face_image(1, faces=0)
        if request.path.startswith("/ref/html"):
            return 200, {"content-type": "image/jpeg"}, b"<html>secret internal page</html>"
        return 404, {"content-type": "text/plain"}, b"partner says: no such reference, internal id 42"

    receiver = Receiver(respond).start()
    yield receiver
    receiver.stop()


def sdk_session(api: Api, reference_url: str | None = None) -> tuple[str, str]:
    psid = str(uuid.uuid4())
    body: dict[str, Any] = {"flow": "FACE_MATCH", "source": "SDK"}
    if reference_url:
        body["additionalDetails"] = {"referenceImageUrl": reference_url}
    response = api.initiate(psid, body)
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["token"]), psid


def attempt(api: Api, token: str, psid: str, selfie: bytes, reference: bytes | None = None) -> dict[str, Any]:
    presigned = api.presign(token, psid).json()["data"]
    assert api.upload(presigned["documents"]["SELFIE"]["documentUrl"], selfie).status_code == 200
    if reference is not None:
        assert api.upload(presigned["documents"]["REFERENCE"]["documentUrl"], reference).status_code == 200
    assert api.confirm(token, psid, presigned["submissionId"]).status_code == 200
    return api.wait_decided(token, psid, presigned["submissionId"])


def test_reference_from_url_with_partner_headers(api: Api, reference_server: Receiver) -> None:
    for kind in ("png", "json"):
        token, psid = sdk_session(api, f"{reference_server.url}/ref/{kind}")
        status = attempt(api, token, psid, fake_face_image(1))
        assert status["result"] == "VALID", status
        seen = reference_server.requests[-1]
        assert seen.method == "GET"
        assert seen.headers["x-partner-session-id"] == psid
        assert (seen.headers["x-partner-user-id"], seen.headers["x-partner-user-id-type"]) == (
            "user-1",
            "TEST_ID",
        )


@pytest.mark.parametrize(
    ("path", "reason", "block", "kind"),
    [
        ("/ref/missing", "DOCUMENT_NOT_FOUND", "referenceImage", "HTTP_STATUS"),
        ("/ref/html", "DOCUMENT_NOT_FOUND", "referenceImage", "NOT_AN_IMAGE"),
        ("/ref/noface", "REFERENCE_IMAGE_VALIDATION_FAILED", "verificationResults", None),
    ],
)
def test_reference_failures(
    api: Api, reference_server: Receiver, path: str, reason: str, block: str, kind: str | None
) -> None:
    token, psid = sdk_session(api, reference_server.url + path)
    status = attempt(api, token, psid, fake_face_image(1))
    assert (status["result"], status["reasonCode"], status["nextAction"]) == ("INVALID", reason, "STATUS")
    data = api.details(x_partner_session_id=psid).json()["data"]
    assert (data["status"], data["result"], data["reasonCode"]) == ("COMPLETED", "INVALID", reason)
    assert block in data["submissionDetails"]
    assert "internal" not in json.dumps(data)  # never the partner's raw body
    if reason == "REFERENCE_IMAGE_VALIDATION_FAILED":
        ktp = data["submissionDetails"]["verificationResults"]["referenceImageValidation"]["ktp"]
        assert ktp == {"verificationResult": False, "verificationReasonCode": "NO_FACE"}
    else:
        assert data["submissionDetails"]["referenceImage"] == {"found": False, "failureKind": kind}


def test_no_reference_at_all_is_document_not_found(api: Api) -> None:
    token, psid, submission_id = api.run_be_flow(fake_face_image(1), None)
    status = api.wait_decided(token, psid, submission_id)
    assert status["reasonCode"] == "DOCUMENT_NOT_FOUND"
    assert api.details(x_submission_id=submission_id).json()["data"]["submissionDetails"][
        "referenceImage"
    ] == {
        "found": False,
        "failureKind": "NOT_PROVIDED",
    }


@pytest.mark.parametrize(
    ("selfie", "code"),
    [
        (fake_face_image(1, faces=0), "NO_FACE"),
        (fake_face_image(1, faces=2), "MULTIPLE_FACES"),
        (fake_face_image(1, quality_issue="FACE_BLURRED"), "FACE_BLURRED"),
        (fake_face_image(1, quality_issue="FACE_TOO_DARK"), "FACE_TOO_DARK"),
    ],
)
def test_unusable_selfie_is_invalid_document(api: Api, selfie: bytes, code: str) -> None:
    token, psid, submission_id = api.run_be_flow(selfie, fake_face_image(1))
    api.wait_decided(token, psid, submission_id)
    data = api.details(x_submission_id=submission_id).json()["data"]
    assert (data["result"], data["reasonCode"]) == ("INVALID", "INVALID_DOCUMENT")
    assert data["submissionDetails"]["selfieValidation"] == {
        "verificationResult": False,
        "verificationReasonCode": code,
    }


def test_retry_until_attempts_run_out_then_one_final_result(api: Api) -> None:
    token, psid = sdk_session(api)
    first = attempt(api, token, psid, fake_face_image(1), fake_face_image(2))
    assert (first["reasonCode"], first["nextAction"], first["attemptsRemaining"]) == (
        "FACE_MATCH_FAILED",
        "RETRY",
        2,
    )
    interim = api.details(x_partner_session_id=psid).json()["data"]
    assert interim["status"] == "IN_PROGRESS" and "result" not in interim  # not partner-visible yet
    second = attempt(api, token, psid, fake_face_image(1, faces=0), fake_face_image(2))
    assert (second["reasonCode"], second["nextAction"]) == ("INVALID_DOCUMENT", "RETRY")
    third = attempt(api, token, psid, fake_face_image(1), fake_face_image(2))
    assert (third["reasonCode"], third["nextAction"], third["attemptsRemaining"]) == (
        "FACE_MATCH_FAILED",
        "STATUS",
        0,
    )
    final = api.details(x_partner_session_id=psid).json()["data"]
    assert (final["status"], final["result"], final["reasonCode"]) == (
        "COMPLETED",
        "INVALID",
        "FACE_MATCH_FAILED",
    )
    assert api.presign(token, psid).status_code == 429
    with api.server.services.db.session() as session:
        flow = session.scalar(select(FlowSession).where(FlowSession.partner_session_id == psid))
        assert flow is not None
        messages = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .join(Submission, Submission.id == OutboxMessage.submission_id)
            .where(Submission.session_id == flow.id)
        )
    assert messages == 1


def test_success_after_retry_and_hidden_status_screen(live: LiveServer) -> None:
    api = make_api(live, show_status_screen=False)
    token, psid = sdk_session(api)
    assert attempt(api, token, psid, fake_face_image(1), fake_face_image(2))["nextAction"] == "RETRY"
    done = attempt(api, token, psid, fake_face_image(1), fake_face_image(1))
    assert (done["result"], done["nextAction"]) == ("VALID", "EXIT")
    assert api.details(x_partner_session_id=psid).json()["data"]["result"] == "VALID"
    api.http.close()


# --- synchronous compare ----------------------------------------------------------------------------


def face_match(api: Api, psid: str, **kwargs: Any) -> httpx.Response:
    headers = {"x-onekyc-token": api.partner_token(), "x-partner-session-id": psid, **api.user_headers()}
    return api.http.post("/coe-partner/v1/face-match", headers=headers, **kwargs)


def test_face_match_multipart_and_json(api: Api) -> None:
    files = {
        "selfie": ("s.png", fake_face_image(3), "image/png"),
        "reference": ("r.png", fake_face_image(3), "image/png"),
    }
    psid = str(uuid.uuid4())
    response = face_match(api, psid, files=files)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["status"], data["result"], data["partnerSessionId"]) == ("COMPLETED", "VALID", psid)
    assert data["submissionDetails"]["verificationResults"]["faceMatch"]["result"] is True
    # recorded like any submission
    assert api.details(x_submission_id=data["submissionId"]).json()["data"]["result"] == "VALID"
    payload = {
        "selfie": base64.b64encode(fake_face_image(3)).decode(),
        "reference": "data:image/png;base64," + base64.b64encode(fake_face_image(4)).decode(),
    }
    other = face_match(api, str(uuid.uuid4()), json=payload).json()["data"]
    assert (other["result"], other["reasonCode"]) == ("INVALID", "FACE_MATCH_FAILED")


def test_face_match_errors(api: Api) -> None:
    psid = str(uuid.uuid4())
    only_selfie = face_match(api, psid, json={"selfie": base64.b64encode(fake_face_image(3)).decode()})
    assert only_selfie.status_code == 400
    assert only_selfie.json()["errors"][0]["cause"] == "REFERENCE_CAN_NOT_BE_EMPTY"
    headers = {"x-onekyc-token": api.partner_token(), "x-partner-session-id": psid, **api.user_headers()}
    too_deep = api.http.post(
        "/coe-partner/v1/face-match",
        headers={**headers, "content-type": "application/json"},
        content=b"[" * 100_000 + b"]" * 100_000,
    )
    assert too_deep.status_code == 400, too_deep.text
    assert too_deep.json()["errors"][0]["cause"] == "INVALID_BODY"
    bad_b64 = face_match(api, psid, json={"selfie": "!!!", "reference": "!!!"})
    assert bad_b64.json()["errors"][0]["cause"] == "INVALID_SELFIE"
    not_image = face_match(
        api,
        psid,
        files={
            "selfie": ("s", b"%PDF-1.4 ...", "application/pdf"),
            "reference": ("r", fake_face_image(3), "image/png"),
        },
    )
    data = not_image.json()["data"]
    assert (data["result"], data["reasonCode"]) == ("INVALID", "INVALID_DOCUMENT")
    assert (
        data["submissionDetails"]["selfieValidation"]["verificationReasonCode"] == "UNSUPPORTED_IMAGE_FORMAT"
    )
    again = face_match(
        api,
        psid,
        files={
            "selfie": ("s", fake_face_image(3), "image/png"),
            "reference": ("r", fake_face_image(3), "image/png"),
        },
    )
    assert again.status_code == 400 and again.json()["errors"][0]["cause"] == "DUPLICATE_PARTNER_SESSION_ID"
    no_face_ref = face_match(
        api,
        str(uuid.uuid4()),
        files={
            "selfie": ("s", fake_face_image(3), "image/png"),
            "reference": ("r", fake_face_image(3, faces=0), "image/png"),
        },
    ).json()["data"]
    assert no_face_ref["reasonCode"] == "REFERENCE_IMAGE_VALIDATION_FAILED"
    user_token = face_match(api, str(uuid.uuid4()), json={})
    assert user_token.status_code == 400


class BrokenEngine(FakeEngine):
    def compare_analyses(self, selfie: FaceAnalysis, reference: FaceAnalysis) -> MatchResult:
        raise RuntimeError("model crashed")


def test_unexpected_failure_is_error_verification_failed(database_url: str, tmp_path: Path) -> None:
    with live_app(
        database_url, tmp_path, engine=BrokenEngine(), FACEMATCH_SUBMISSIONS__JOB_MAX_TRIES="1"
    ) as server:
        api = make_api(server)
        token, psid, submission_id = api.run_be_flow(fake_face_image(1), fake_face_image(1))
        status = api.wait_decided(token, psid, submission_id)
        assert status["status"] == "ERROR" and status["reasonCode"] == "VERIFICATION_FAILED"
        data = api.details(x_submission_id=submission_id).json()["data"]
        assert set(data) == {
            "status",
            "submissionId",
            "flow",
            "partnerSessionId",
            "userId",
            "userIdType",
            "reasonCode",
            "processedAt",
        }
        assert (data["status"], data["reasonCode"]) == ("ERROR", "VERIFICATION_FAILED")
        with server.services.db.session() as session:
            assert session.scalar(select(OutboxMessage).where(OutboxMessage.submission_id == submission_id))
        api.http.close()


def test_leaving_after_a_retry_makes_the_last_attempt_final(api: Api) -> None:
    token, psid = sdk_session(api)
    first = attempt(api, token, psid, fake_face_image(1), fake_face_image(2))
    assert first["nextAction"] == "RETRY"
    assert api.details(x_partner_session_id=psid).json()["data"]["status"] == "IN_PROGRESS"
    svc = api.server.services
    with svc.db.session() as session:
        flow = session.scalar(select(FlowSession).where(FlowSession.partner_session_id == psid))
        assert flow is not None
        flow_id = flow.id
    assert flow_sessions.finish_session(svc, flow_id) is flow_sessions.Finished.FINISHED
    assert flow_sessions.finish_session(svc, flow_id) is flow_sessions.Finished.ALREADY_FINAL  # once
    data = api.details(x_partner_session_id=psid).json()["data"]
    assert (data["status"], data["result"]) == ("COMPLETED", "INVALID")
    assert data["reasonCode"] == "FACE_MATCH_FAILED"
    assert api.status(token, psid, first["submissionId"]).json()["data"]["nextAction"] == "STATUS"
    with svc.db.session() as session:
        query = select(func.count()).where(OutboxMessage.submission_id == first["submissionId"])
        assert session.scalar(query) == 1
