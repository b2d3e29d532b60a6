"""Security guide §4: every object endpoint × {owner, other partner, no token, another session's token};
and mass assignment."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from facematch.engine.fake import fake_face_image
from partner_client import Api, make_api
from servicekit import LiveServer


@dataclass
class World:
    owner: Api
    other: Api
    token: str
    psid: str
    submission_id: str
    selfie_url: str
    other_session_token: str
    other_session_psid: str


@pytest.fixture(scope="module")
def world(live: LiveServer) -> Iterator[World]:
    owner, other = make_api(live), make_api(live)
    token, psid, submission_id = owner.run_be_flow(fake_face_image(1), fake_face_image(1))
    owner.wait_decided(token, psid, submission_id)
    selfie_url = owner.details(x_submission_id=submission_id).json()["data"]["submissionDetails"][
        "imageUrls"
    ]["selfie"]
    other_token = owner.user_token("user-2")
    other_psid = str(uuid.uuid4())
    assert owner.presign(other_token, other_psid).status_code == 200
    yield World(owner, other, token, psid, submission_id, selfie_url, other_token, other_psid)
    owner.http.close()
    other.http.close()


def no_object_bytes(response: httpx.Response, world: World) -> None:
    assert response.status_code in (400, 401, 403, 404), response.text
    assert world.psid not in response.text and "score" not in response.text


def test_status(world: World) -> None:
    o = world.owner
    assert o.status(world.token, world.psid, world.submission_id).status_code == 200
    other_partner_token = world.other.user_token()
    no_object_bytes(world.other.status(other_partner_token, world.psid, world.submission_id), world)
    no_object_bytes(o.status("", world.psid, world.submission_id), world)
    no_object_bytes(o.status(world.other_session_token, world.psid, world.submission_id), world)
    no_object_bytes(o.status(world.other_session_token, world.other_session_psid, world.submission_id), world)


def test_details(world: World) -> None:
    assert world.owner.details(x_submission_id=world.submission_id).status_code == 200
    no_object_bytes(world.other.details(x_submission_id=world.submission_id), world)
    no_object_bytes(world.other.details(x_partner_session_id=world.psid), world)
    no_object_bytes(
        world.owner.http.get("/coe/v1/submissions", headers={"x-submission-id": world.submission_id}), world
    )
    headers = {"x-onekyc-token": world.other_session_token, "x-submission-id": world.submission_id}
    no_object_bytes(world.owner.http.get("/coe/v1/submissions", headers=headers), world)


def test_selfie_image_url(world: World) -> None:
    assert httpx.get(world.selfie_url).status_code == 200
    base, signature = world.selfie_url.split("?signature=")
    no_object_bytes(httpx.get(base), world)
    no_object_bytes(httpx.get(base + "?signature=" + signature[:-2] + "xx"), world)
    # a signature is scoped to one submission
    token, psid, other_id = world.other.run_be_flow(
        *(__import__("facematch.engine.fake", fromlist=["x"]).fake_face_image(5),) * 2
    )
    world.other.wait_decided(token, psid, other_id)
    no_object_bytes(httpx.get(base.replace(world.submission_id, other_id) + "?signature=" + signature), world)
    # a partner token is not an image signature
    no_object_bytes(httpx.get(base + "?signature=" + world.owner.partner_token()), world)


def test_uploads_and_confirm(world: World) -> None:
    o = world.owner
    presigned = o.presign(world.token, psid := str(uuid.uuid4())).json()["data"]
    submission_id = presigned["submissionId"]
    url = presigned["documents"]["SELFIE"]["documentUrl"]
    assert o.upload(url, fake_face_image(3)).status_code == 200
    # another partner, no token, another session: confirm refused, nothing leaks
    no_object_bytes(world.other.confirm(world.other.user_token(), psid, submission_id), world)
    no_object_bytes(o.confirm("", psid, submission_id), world)
    no_object_bytes(o.confirm(world.other_session_token, world.other_session_psid, submission_id), world)
    no_object_bytes(o.confirm(world.other_session_token, psid, submission_id), world)
    # an upload URL for one submission cannot write another one
    other_presigned = o.presign(world.other_session_token, world.other_session_psid).json()["data"]
    foreign = url.replace(submission_id, other_presigned["submissionId"])
    no_object_bytes(o.upload(foreign, fake_face_image(9)), world)
    assert o.confirm(world.token, psid, submission_id).status_code == 200


def test_mass_assignment_is_ignored(world: World) -> None:
    o = world.owner
    psid = str(uuid.uuid4())
    body = {
        "flow": "FACE_MATCH",
        "source": "SDK",
        "status": "COMPLETED",
        "score": 1.0,
        "partnerId": world.other.creds.partner_id,
        "interactive": False,
        "maxAttempts": 99,
    }
    data = o.initiate(psid, body).json()["data"]
    token = data["token"]
    presigned = o.presign(token, psid).json()["data"]
    o.upload(presigned["documents"]["SELFIE"]["documentUrl"], fake_face_image(1))
    o.upload(presigned["documents"]["REFERENCE"]["documentUrl"], fake_face_image(2))
    confirm = o.http.put(
        "/coe/v1/submissions/urls",
        headers=o.submission_headers(token, psid),
        json={
            "submissionId": presigned["submissionId"],
            "status": "COMPLETED",
            "result": "VALID",
            "score": 0.99,
            "metadata": {"status": "COMPLETED"},
        },
    )
    assert confirm.status_code == 200
    status = o.wait_decided(token, psid, presigned["submissionId"])
    assert status["result"] == "INVALID" and status["reasonCode"] == "FACE_MATCH_FAILED"
    assert status["nextAction"] == "RETRY"  # an Initiate Flow session stays interactive
    assert world.other.details(x_partner_session_id=psid).status_code == 400
