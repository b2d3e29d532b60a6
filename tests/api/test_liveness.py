"""Liveness for backend partners, over real HTTP (fake engine): presign issues the challenge and a
LIVENESS slot, the clip is decoded and judged in the job with the selfie before the face match, and
the verdict reaches Get Submission Details and the callback; a print, another nonce, a late clip
and a confirm without a clip each get their answer. Paths without liveness stay as they were."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from clipkit import encode_clip, fake_moves
from facematch.clock import ManualClock
from facematch.engine.fake import fake_face_image
from facematch.storage.models import LivenessFrame, Submission, utcnow
from partner_client import Api, make_api
from servicekit import LiveServer, Receiver, live_app

from .conftest import signed_callback

CHECKS = ["NONCE", "TIMING", "CADENCE", "ONE_FACE", "MOVES", "DEPTH", "SAME_PERSON", "FLAT_TEXTURE"]


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    # ahead of the real time, so that jobs queued at the real time are always due for its workers
    return ManualClock(utcnow() + timedelta(hours=1))


@pytest.fixture(scope="module")
def live(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory, clock: ManualClock
) -> Iterator[LiveServer]:
    with live_app(module_database_url, tmp_path_factory.mktemp("live"), clock=clock) as server:
        yield server


@pytest.fixture
def live_api(live: LiveServer, hooks: Receiver) -> Iterator[Api]:
    """A partner whose every session asks for liveness, with a callback receiver."""
    client = make_api(live, liveness="active", callback_url=hooks.url + "/hook")
    try:
        yield client
    finally:
        client.http.close()


def presign_live(api: Api, psid: str, token: str) -> dict[str, Any]:
    presigned = api.presign(token, psid)
    assert presigned.status_code == 200, presigned.text
    data: dict[str, Any] = presigned.json()["data"]
    assert set(data["documents"]) == {"SELFIE", "REFERENCE", "LIVENESS"}
    return data


def send_clip(api: Api, data: dict[str, Any], clip: bytes, nonce: str | None) -> httpx.Response:
    headers = {"content-type": "video/x-motion-jpeg"}
    if nonce is not None:
        headers["x-liveness-nonce"] = nonce
    return httpx.put(data["documents"]["LIVENESS"]["documentUrl"], content=clip, headers=headers)


def run_live_flow(
    api: Api,
    clock: ManualClock,
    *,
    flat: bool = False,
    nonce: str | None = None,
    late: bool = False,
    psid: str | None = None,
    token: str | None = None,
) -> tuple[str, str, str]:
    """presign → the user records the challenge (the clock moves on) → clip, selfie, reference →
    confirm; returns (token, psid, submission id)."""
    psid = psid or str(uuid.uuid4())
    token = token or api.user_token()
    data = presign_live(api, psid, token)
    challenge = data["liveness"]
    clip = encode_clip(fake_moves(challenge["moves"], flat=flat), "mjpeg")
    clock.advance(60.0 if late else 8.0)  # the clip lasts about 4 s, recorded after the issue
    sent = send_clip(api, data, clip, nonce or challenge["nonce"])
    assert sent.status_code == 200, sent.text
    assert sent.json()["data"]["documentReference"].endswith("/LIVENESS")
    assert api.upload(data["documents"]["SELFIE"]["documentUrl"], fake_face_image(1)).status_code == 200
    assert api.upload(data["documents"]["REFERENCE"]["documentUrl"], fake_face_image(1)).status_code == 200
    confirmed = api.confirm(token, psid, data["submissionId"])
    assert confirmed.status_code == 200, confirmed.text
    return token, psid, data["submissionId"]


def details(api: Api, submission_id: str) -> dict[str, Any]:
    data: dict[str, Any] = api.details(x_submission_id=submission_id).json()["data"]
    return data


def evidence_left(live: LiveServer, submission_id: str) -> tuple[str | None, int]:
    with live.services.db.session() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None
        frames = session.scalar(
            select(func.count())
            .select_from(LivenessFrame)
            .where(LivenessFrame.submission_id == submission_id)
        )
        return submission.liveness_blob, int(frames or 0)


def test_presign_without_liveness_is_unchanged(api: Api) -> None:
    data = api.presign(api.user_token(), str(uuid.uuid4())).json()["data"]
    assert set(data) == {"submissionId", "status", "documents"}
    assert set(data["documents"]) == {"SELFIE", "REFERENCE"}


def test_presign_issues_a_challenge_and_a_liveness_slot(live_api: Api) -> None:
    data = presign_live(live_api, str(uuid.uuid4()), live_api.user_token())
    challenge = data["liveness"]
    assert challenge["version"] == "active-1" and len(challenge["nonce"]) == 32
    assert {"TURN_LEFT", "TURN_RIGHT"} <= set(challenge["moves"]) and 2 <= len(challenge["moves"]) <= 3
    assert challenge["moveWithinSeconds"] == 6.0 and challenge["deadline"] > challenge["issuedAt"]
    assert challenge["clip"] == {"formats": ["webm", "mp4", "mjpeg"], "maxBytes": 5242880, "maxSeconds": 10.0}
    slot = data["documents"]["LIVENESS"]
    assert slot["maxBytes"] == "5242880" and slot["documentReference"].endswith("/LIVENESS")


def test_a_live_clip_passes_and_its_verdict_reaches_details_and_the_callback(
    live: LiveServer, live_api: Api, hooks: Receiver, clock: ManualClock
) -> None:
    token, psid, submission_id = run_live_flow(live_api, clock)
    status = live_api.wait_decided(token, psid, submission_id)
    assert (status["result"], status["reasonCode"]) == ("VALID", "")
    data = details(live_api, submission_id)
    results = data["submissionDetails"]["verificationResults"]
    assert results["faceMatch"]["result"] is True
    liveness = results["liveness"]
    assert liveness["result"] is True and liveness["version"] == "active-1"
    assert [c["name"] for c in liveness["checks"]] == CHECKS and all(c["passed"] for c in liveness["checks"])
    assert (
        signed_callback(live_api, hooks, psid)["submissionDetails"]["verificationResults"]["liveness"]
        == liveness
    )
    assert evidence_left(live, submission_id) == (None, 0)  # the clip is gone once the verdict is in


@pytest.mark.parametrize(
    ("attack", "failed"),
    [({"flat": True}, "DEPTH"), ({"nonce": "0" * 32}, "NONCE"), ({"late": True}, "TIMING")],
    ids=["print", "another-nonce", "late"],
)
def test_a_failed_challenge_is_not_live_without_a_face_match(
    live: LiveServer, live_api: Api, hooks: Receiver, clock: ManualClock, attack: dict[str, Any], failed: str
) -> None:
    token, psid, submission_id = run_live_flow(live_api, clock, **attack)
    status = live_api.wait_decided(token, psid, submission_id)
    assert (status["status"], status["result"], status["reasonCode"]) == ("COMPLETED", "INVALID", "NOT_LIVE")
    assert status["nextAction"] == "STATUS"  # backend to backend: final
    assert status["verificationResult"] == {"isApproved": False, "riskLevel": "HIGH"}
    assert status["documents"]["SELFIE"]["status"] == "INVALID"
    results = details(live_api, submission_id)["submissionDetails"]["verificationResults"]
    assert "faceMatch" not in results
    checks = {c["name"]: c["passed"] for c in results["liveness"]["checks"]}
    assert results["liveness"]["result"] is False and checks[failed] is False
    assert signed_callback(live_api, hooks, psid)["reasonCode"] == "NOT_LIVE"
    assert evidence_left(live, submission_id) == (None, 0)


def test_an_interactive_session_that_asks_for_liveness_may_retry_after_not_live(
    api: Api, clock: ManualClock
) -> None:
    psid = str(uuid.uuid4())
    initiated = api.initiate(
        psid, {"flow": "FACE_MATCH", "source": "SDK", "additionalDetails": {"liveness": "active"}}
    )
    token = initiated.json()["data"]["token"]
    _, _, first = run_live_flow(api, clock, flat=True, psid=psid, token=token)
    status = api.wait_decided(token, psid, first)
    assert (status["reasonCode"], status["nextAction"], status["attemptsRemaining"]) == (
        "NOT_LIVE",
        "RETRY",
        2,
    )
    assert details(api, first)["status"] == "IN_PROGRESS"  # the partner waits for the user's retry
    _, _, second = run_live_flow(api, clock, psid=psid, token=token)
    assert api.wait_decided(token, psid, second)["result"] == "VALID"
    assert details(api, second)["submissionDetails"]["verificationResults"]["liveness"]["result"] is True


def test_confirm_without_the_clip_is_refused(live_api: Api) -> None:
    psid, token = str(uuid.uuid4()), live_api.user_token()
    data = presign_live(live_api, psid, token)
    assert live_api.upload(data["documents"]["SELFIE"]["documentUrl"], fake_face_image(1)).status_code == 200
    refused = live_api.confirm(token, psid, data["submissionId"])
    assert refused.status_code == 400
    assert refused.json()["errors"] == [{"code": "1542", "cause": "LIVENESS_CLIP_REQUIRED"}]


def test_a_clip_without_its_nonce_or_that_is_no_video_is_refused(live_api: Api) -> None:
    data = presign_live(live_api, str(uuid.uuid4()), live_api.user_token())
    clip = encode_clip(fake_moves(data["liveness"]["moves"]), "mjpeg")
    missing = send_clip(live_api, data, clip, None)
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["cause"] == "X_LIVENESS_NONCE_CAN_NOT_BE_EMPTY"
    for bad in (b"", b"\x1a\x45\xdf\xa3 not a matroska file", b"GIF89a" + b"\x00" * 64):
        refused = send_clip(live_api, data, bad, data["liveness"]["nonce"])
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["cause"] == "INVALID_UPLOAD_ARTIFACT"
    too_big = send_clip(live_api, data, b"\x1a\x45\xdf\xa3" + b"\x00" * (5 * 1024 * 1024), "n")
    assert too_big.status_code == 413


def test_the_synchronous_compare_is_refused_when_the_partner_asks_for_liveness(live_api: Api) -> None:
    refused = live_api.http.post(
        "/coe-partner/v1/face-match",
        headers={
            "x-onekyc-token": live_api.partner_token(),
            "x-partner-session-id": str(uuid.uuid4()),
            **live_api.user_headers(),
        },
        files={
            "selfie": ("s.png", fake_face_image(1), "image/png"),
            "reference": ("r.png", fake_face_image(1), "image/png"),
        },
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["cause"] == "LIVENESS_REQUIRED"
