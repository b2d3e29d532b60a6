"""Every field the service sends is in ``/openapi.json``: real answers of the partner API, in every
state a partner meets (valid, each failure, between attempts, in review, reviewed, sandbox, errors),
are checked against the document's schemas with no undocumented field allowed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from clipkit import encode_clip, fake_moves
from consolekit import console_user, make_operator
from facematch.clock import ManualClock
from facematch.engine.fake import fake_face_image
from facematch.flows import review
from facematch.flows.console import desk
from facematch.flows.console.operators import OperatorRole
from facematch.rules.review_band import Band
from facematch.storage.models import utcnow
from partner_client import Api, make_api
from servicekit import LiveServer, Receiver, live_app, wait_for

from .test_results import attempt, sdk_session


def strict(node: Any) -> Any:
    """The schema with every object closed: a field that is not documented fails validation."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    closed = {key: strict(value) for key, value in node.items()}
    if "properties" in closed and closed.get("additionalProperties", True) is True:
        closed["additionalProperties"] = False
    return closed


class Answers:
    """Checks answers against the live server's document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.checked: set[tuple[str, str, int]] = set()

    def check(self, method: str, path: str, response: httpx.Response) -> dict[str, Any]:
        operation = self.document["paths"][path][method]
        status = str(response.status_code)
        assert status in operation["responses"], f"{method.upper()} {path} answered {status}, not documented"
        schema = operation["responses"][status]["content"]["application/json"]["schema"]
        root = strict({**schema, "components": self.document["components"]})
        errors = sorted(Draft202012Validator(root).iter_errors(response.json()), key=str)
        assert not errors, f"{method.upper()} {path} {status}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
        )
        self.checked.add((method, path, response.status_code))
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="module")
def answers(live: LiveServer) -> Answers:
    return Answers(httpx.get(live.url + "/openapi.json").json())


@pytest.fixture
def partner(live: LiveServer) -> Iterator[Api]:
    client = make_api(live)
    yield client
    client.http.close()


DETAILS = "/coe/v1/submissions"
STATUS = "/coe/v1/submissions/{submission_id}/status"


def details(api: Api, answers: Answers, psid: str) -> dict[str, Any]:
    headers = {"x-onekyc-token": api.partner_token(), "x-partner-session-id": psid}
    return answers.check("get", DETAILS, api.http.get(DETAILS, headers=headers))["data"]


def status(api: Api, answers: Answers, token: str, psid: str, submission_id: str) -> dict[str, Any]:
    response = api.status(token, psid, submission_id)
    return answers.check("get", STATUS, response)["data"]


def test_the_backend_flow_answers_as_documented(partner: Api, answers: Answers) -> None:
    api = partner
    answers.check(
        "get",
        "/v1/coe/partner/authentication",
        api.http.get(
            "/v1/coe/partner/authentication",
            headers={"client-id": api.creds.client_id, "pass-key": api.creds.passkey},
        ),
    )
    token = api.user_token()
    psid = str(uuid.uuid4())
    presigned = answers.check("get", "/coe/v1/submissions/urls", api.presign(token, psid))["data"]
    for slot in ("SELFIE", "REFERENCE"):
        url = presigned["documents"][slot]["documentUrl"]
        uploaded = api.upload(url, fake_face_image(1))
        answers.check("put", "/coe/v1/submissions/{submission_id}/documents/{document_type}", uploaded)
    confirmed = api.confirm(token, psid, presigned["submissionId"])
    answers.check("put", "/coe/v1/submissions/urls", confirmed)
    again = api.confirm(token, psid, presigned["submissionId"])
    answers.check("put", "/coe/v1/submissions/urls", again)
    api.wait_decided(token, psid, presigned["submissionId"])
    decided = status(api, answers, token, psid, presigned["submissionId"])
    data = details(api, answers, psid)
    assert decided["reviewRequired"] is False
    face_match = data["submissionDetails"]["verificationResults"]["faceMatch"]
    assert face_match["decidedBy"] == "ENGINE" and "calibrationBand" in face_match


@pytest.mark.parametrize(
    ("selfie", "reference", "reason"),
    [
        (fake_face_image(1), fake_face_image(2), "FACE_MATCH_FAILED"),
        (fake_face_image(1, faces=0), fake_face_image(1), "INVALID_DOCUMENT"),
        (fake_face_image(1, quality_issue="FACE_BLURRED"), fake_face_image(1), "INVALID_DOCUMENT"),
        (fake_face_image(1), None, "DOCUMENT_NOT_FOUND"),
        (fake_face_image(1), fake_face_image(1, faces=0), "REFERENCE_IMAGE_VALIDATION_FAILED"),
    ],
)
def test_each_failure_answers_as_documented(
    partner: Api, answers: Answers, selfie: bytes, reference: bytes | None, reason: str
) -> None:
    token, psid, submission_id = partner.run_be_flow(selfie, reference)
    partner.wait_decided(token, psid, submission_id)
    assert status(partner, answers, token, psid, submission_id)["reasonCode"] == reason
    assert details(partner, answers, psid)["reasonCode"] == reason


def test_a_session_between_attempts_and_finished_answers_as_documented(
    partner: Api, answers: Answers
) -> None:
    token, psid = sdk_session(partner)
    first = attempt(partner, token, psid, fake_face_image(1), fake_face_image(2))
    assert status(partner, answers, token, psid, first["submissionId"])["attempts"]
    assert details(partner, answers, psid)["attempts"]
    finished = partner.http.post(
        "/coe-partner/v1/sessions/finish",
        headers={"x-onekyc-token": partner.partner_token(), "x-partner-session-id": psid},
    )
    answers.check("post", "/coe-partner/v1/sessions/finish", finished)
    assert status(partner, answers, token, psid, first["submissionId"])["attemptsRemaining"] == 0


def test_a_reviewed_match_answers_as_documented(live: LiveServer, partner: Api, answers: Answers) -> None:
    review.set_policy(live.services, partner.creds.partner_id, Band(0.05, 0.5), actor="system:test")
    token, psid, submission_id = partner.run_be_flow(fake_face_image(1), fake_face_image(2))  # 0.1: held
    wait_for(lambda: partner.status(token, psid, submission_id).json()["data"]["reviewRequired"])
    assert status(partner, answers, token, psid, submission_id)["reviewRequired"] is True
    assert details(partner, answers, psid)["reviewRequired"] is True
    reviewer = console_user(live.services, make_operator(live.services, OperatorRole.REVIEWER))
    desk.decide(live.services, reviewer, submission_id, "approve", None, "same person, older photo")
    face_match = details(partner, answers, psid)["submissionDetails"]["verificationResults"]["faceMatch"]
    assert (face_match["decidedBy"], face_match["engineResult"]) == ("REVIEW", False)
    assert face_match["reviewerId"] and face_match["reviewedAt"]


def test_the_compare_initiate_and_sandbox_answer_as_documented(live: LiveServer, answers: Answers) -> None:
    for sandbox in (False, True):
        api = make_api(live, sandbox=sandbox)
        try:
            headers = {
                "x-onekyc-token": api.partner_token(),
                "x-partner-session-id": str(uuid.uuid4()),
                **api.user_headers("sandbox-reference-not-found" if sandbox else "user-1"),
            }
            compared = api.http.post(
                "/coe-partner/v1/face-match",
                headers=headers,
                files={
                    "selfie": ("s.png", fake_face_image(1), "image/png"),
                    "reference": ("r.png", fake_face_image(1), "image/png"),
                },
            )
            data = answers.check("post", "/coe-partner/v1/face-match", compared)["data"]
            assert ("environment" in data) is sandbox
            for source, extra in (
                ("SDK", {}),
                (
                    "WEB_SDK",
                    {
                        "successRedirectionUrl": "https://partner.example/ok",
                        "failureRedirectionUrl": "https://partner.example/failed",
                    },
                ),
            ):
                initiated = api.initiate(str(uuid.uuid4()), {"flow": "FACE_MATCH", "source": source, **extra})
                answers.check("post", "/coe-partner/v1/initiate-flow", initiated)
        finally:
            api.http.close()


def test_errors_and_operations_answer_as_documented(partner: Api, answers: Answers) -> None:
    answers.check("get", "/healthz", partner.http.get("/healthz"))
    answers.check("get", "/readyz", partner.http.get("/readyz"))
    token = partner.user_token()
    answers.check("get", "/v1/coe/partner/authentication", partner.http.get("/v1/coe/partner/authentication"))
    answers.check(
        "get",
        "/v2/coe/authentication",
        partner.http.get("/v2/coe/authentication", headers={"client-id": "x", "pass-key": "y"}),
    )
    answers.check("get", "/coe/v1/submissions/urls", partner.presign(token, ""))
    answers.check("get", STATUS, partner.status(token, "p", str(uuid.uuid4())))
    answers.check(
        "get", DETAILS, partner.http.get(DETAILS, headers={"x-onekyc-token": partner.partner_token()})
    )
    answers.check(
        "post",
        "/coe-partner/v1/initiate-flow",
        partner.initiate(str(uuid.uuid4()), {"flow": "KTP_OCR", "source": "SDK"}),
    )


def test_the_completion_callback_is_documented_as_sent(live: LiveServer, answers: Answers) -> None:
    receiver = Receiver(lambda _, __: (200, {}, b"ok")).start()
    api = make_api(live, callback_url=receiver.url + "/hook")
    try:
        api.run_be_flow(fake_face_image(1), fake_face_image(2))
        [request] = wait_for(lambda: receiver.requests)
        webhook = answers.document["webhooks"]["submission.completed"]["post"]
        schema = webhook["requestBody"]["content"]["application/json"]["schema"]
        root = strict({**schema, "components": answers.document["components"]})
        body = json.loads(request.body)
        assert not list(Draft202012Validator(root).iter_errors(body))
        assert body["reasonCode"] == "FACE_MATCH_FAILED"
    finally:
        api.http.close()
        receiver.stop()


def test_liveness_answers_as_documented(database_url: str, tmp_path: Path, answers: Answers) -> None:
    """Presign with its challenge and LIVENESS slot, the clip's upload, and the details and the
    callback of a passed challenge (liveness with faceMatch) and of a print (NOT_LIVE, no faceMatch)."""
    clock = ManualClock(utcnow() + timedelta(hours=1))
    receiver = Receiver(lambda _, __: (200, {}, b"ok")).start()
    with live_app(database_url, tmp_path, clock=clock) as server:
        api = make_api(server, liveness="active", callback_url=receiver.url + "/hook")
        try:
            for flat, reason in ((False, ""), (True, "NOT_LIVE")):
                token, psid = api.user_token(), str(uuid.uuid4())
                presigned = answers.check("get", "/coe/v1/submissions/urls", api.presign(token, psid))["data"]
                clock.advance(8.0)
                clip = encode_clip(fake_moves(presigned["liveness"]["moves"], flat=flat), "mjpeg")
                sent = httpx.put(
                    presigned["documents"]["LIVENESS"]["documentUrl"],
                    content=clip,
                    headers={"x-liveness-nonce": presigned["liveness"]["nonce"]},
                )
                answers.check("put", "/coe/v1/submissions/{submission_id}/documents/{document_type}", sent)
                for slot in ("SELFIE", "REFERENCE"):
                    assert api.upload(
                        presigned["documents"][slot]["documentUrl"], fake_face_image(1)
                    ).is_success
                answers.check(
                    "put", "/coe/v1/submissions/urls", api.confirm(token, psid, presigned["submissionId"])
                )
                api.wait_decided(token, psid, presigned["submissionId"])
                data = details(api, answers, psid)
                assert data["reasonCode"] == reason
                assert data["submissionDetails"]["verificationResults"]["liveness"]["result"] is not flat
            webhook = answers.document["webhooks"]["submission.completed"]["post"]
            schema = webhook["requestBody"]["content"]["application/json"]["schema"]
            root = strict({**schema, "components": answers.document["components"]})
            bodies = [
                json.loads(r.body)
                for r in wait_for(lambda: receiver.requests if len(receiver.requests) >= 2 else None)
            ]
            assert {b["reasonCode"] for b in bodies} == {"", "NOT_LIVE"}
            for body in bodies:
                assert not list(Draft202012Validator(root).iter_errors(body))
        finally:
            api.http.close()
            receiver.stop()
