"""Liveness for backend partners with the real engine, over real HTTP: a clip of one person's real
photos at the poses the challenge asks for passes to VALID; the frontal photo held as a print and
turned through the same moves ends NOT_LIVE (it shows no depth), in WebM and in MP4."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from clipkit import PHONE_BIT_RATE, encode_clip, live_moves, load_poses, print_moves
from facematch.clock import ManualClock
from facematch.engine.facade import FaceEngine
from facematch.storage.models import utcnow
from partner_client import Api, make_api
from servicekit import LiveServer, Receiver, live_app

from .conftest import signed_callback

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock(utcnow() + timedelta(hours=1))  # ahead: jobs queued at the real time are due


@pytest.fixture(scope="module")
def live(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory, clock: ManualClock
) -> Iterator[LiveServer]:
    engine = FaceEngine.load()
    with live_app(module_database_url, tmp_path_factory.mktemp("live"), engine=engine, clock=clock) as server:
        yield server


@pytest.fixture(scope="module")
def poses(faces_dir: Path) -> dict[str, np.ndarray]:
    return load_poses(faces_dir)


def _flow(api: Api, clock: ManualClock, frames_for: Any, kind: str, faces_dir: Path) -> tuple[str, str, str]:
    psid, token = str(uuid.uuid4()), api.user_token()
    data = api.presign(token, psid).json()["data"]
    clip = encode_clip(frames_for(data["liveness"]["moves"]), kind, bit_rate=PHONE_BIT_RATE)
    clock.advance(9.0)
    sent = httpx.put(
        data["documents"]["LIVENESS"]["documentUrl"],
        content=clip,
        headers={"content-type": f"video/{kind}", "x-liveness-nonce": data["liveness"]["nonce"]},
        timeout=60,
    )
    assert sent.status_code == 200, sent.text
    selfie = (faces_dir / "images" / "obama.jpg").read_bytes()
    reference = (faces_dir / "images" / "obama3.jpg").read_bytes()
    assert api.upload(data["documents"]["SELFIE"]["documentUrl"], selfie, "image/jpeg").status_code == 200
    assert (
        api.upload(data["documents"]["REFERENCE"]["documentUrl"], reference, "image/jpeg").status_code == 200
    )
    assert api.confirm(token, psid, data["submissionId"]).status_code == 200
    return token, psid, data["submissionId"]


@pytest.mark.parametrize("kind", ["webm", "mp4"])
def test_real_photos_at_the_asked_poses_pass_and_a_print_of_one_is_not_live(
    live: LiveServer, clock: ManualClock, poses: dict[str, np.ndarray], faces_dir: Path, kind: str
) -> None:
    hooks = Receiver(lambda _, __: (200, {}, b"ok")).start()
    api = make_api(live, liveness="active", callback_url=hooks.url + "/hook")
    try:
        token, psid, live_id = _flow(api, clock, lambda moves: live_moves(poses, moves), kind, faces_dir)
        status = api.wait_decided(token, psid, live_id)
        assert (status["result"], status["reasonCode"]) == ("VALID", ""), status
        results = api.details(x_submission_id=live_id).json()["data"]["submissionDetails"][
            "verificationResults"
        ]
        assert results["liveness"]["result"] is True and results["faceMatch"]["result"] is True
        assert signed_callback(api, hooks, psid)["result"] == "VALID"

        token, psid, print_id = _flow(
            api, clock, lambda moves: print_moves(poses["FRONT"], moves), kind, faces_dir
        )
        status = api.wait_decided(token, psid, print_id)
        assert (status["result"], status["reasonCode"]) == ("INVALID", "NOT_LIVE")
        data = api.details(x_submission_id=print_id).json()["data"]
        liveness = data["submissionDetails"]["verificationResults"]["liveness"]
        depth = next(c for c in liveness["checks"] if c["name"] == "DEPTH")
        assert liveness["result"] is False and depth["passed"] is False
        assert "faceMatch" not in data["submissionDetails"]["verificationResults"]
        assert signed_callback(api, hooks, psid)["reasonCode"] == "NOT_LIVE"
    finally:
        api.http.close()
        hooks.stop()
