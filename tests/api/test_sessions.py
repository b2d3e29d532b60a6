"""Sessions across attempts, over real HTTP: the attempts a partner sees between retries, finishing a
session on demand, and the retry window after which a session left after a retry becomes final."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from facematch.clock import ManualClock
from facematch.engine.fake import fake_face_image
from facematch.storage.models import FlowSession, OutboxMessage, Partner, Submission, utcnow
from facematch.worker.queue import sweep_abandoned
from partner_client import Api, make_api
from servicekit import LiveServer, Receiver

from .conftest import signed_callback
from .test_results import attempt, sdk_session


@pytest.fixture
def with_hooks(live: LiveServer, hooks: Receiver) -> Iterator[Api]:
    client = make_api(live, callback_url=hooks.url + "/hook")
    yield client
    client.http.close()


def finish(api: Api, psid: str | None) -> Any:
    headers = {"x-onekyc-token": api.partner_token()}
    if psid is not None:
        headers["x-partner-session-id"] = psid
    return api.http.post("/coe-partner/v1/sessions/finish", headers=headers)


def callbacks(api: Api, psid: str) -> int:
    with api.server.services.db.session() as session:
        flow = session.scalar(select(FlowSession).where(FlowSession.partner_session_id == psid))
        assert flow is not None
        query = (
            select(func.count())
            .select_from(OutboxMessage)
            .join(Submission, Submission.id == OutboxMessage.submission_id)
            .where(Submission.session_id == flow.id)
        )
        return int(session.scalar(query) or 0)


def test_each_verdict_shows_while_the_session_is_between_attempts(with_hooks: Api, hooks: Receiver) -> None:
    api = with_hooks
    token, psid = sdk_session(api)
    first = attempt(api, token, psid, fake_face_image(1), fake_face_image(2))
    interim = api.details(x_partner_session_id=psid).json()["data"]
    assert interim["status"] == "IN_PROGRESS" and "result" not in interim
    [seen] = interim["attempts"]
    assert seen == {
        "attempt": 1,
        "submissionId": first["submissionId"],
        "result": "INVALID",
        "reasonCode": "FACE_MATCH_FAILED",
        "processedAt": seen["processedAt"],
    }
    assert seen["processedAt"].endswith("Z")
    status = api.status(token, psid, first["submissionId"]).json()["data"]
    assert status["nextAction"] == "RETRY" and status["attempts"] == [seen]
    second = attempt(api, token, psid, fake_face_image(1, faces=0), fake_face_image(2))
    both = api.details(x_partner_session_id=psid).json()["data"]["attempts"]
    assert [(a["attempt"], a["submissionId"], a["reasonCode"]) for a in both] == [
        (1, first["submissionId"], "FACE_MATCH_FAILED"),
        (2, second["submissionId"], "INVALID_DOCUMENT"),
    ]
    assert callbacks(api, psid) == 0  # no callback before the verdict is final
    third = attempt(api, token, psid, fake_face_image(1), fake_face_image(1))
    final = api.details(x_partner_session_id=psid).json()["data"]
    assert (final["status"], final["result"], final["submissionId"]) == (
        "COMPLETED",
        "VALID",
        third["submissionId"],
    )
    assert "attempts" not in final  # the final verdict reads as it always did
    assert "attempts" not in api.status(token, psid, third["submissionId"]).json()["data"]
    assert signed_callback(api, hooks, psid)["result"] == "VALID" and callbacks(api, psid) == 1


def test_a_backend_flow_answers_as_before(api: Api) -> None:
    token, psid, submission_id = api.run_be_flow(fake_face_image(1), fake_face_image(2))
    api.wait_decided(token, psid, submission_id)
    data = api.details(x_partner_session_id=psid).json()["data"]
    assert "attempts" not in data and "environment" not in data
    assert "attempts" not in api.status(token, psid, submission_id).json()["data"]


def test_finishing_a_session_on_demand(with_hooks: Api, hooks: Receiver) -> None:
    api = with_hooks
    token, psid = sdk_session(api)
    assert finish(api, psid).json()["errors"][0] == {"code": "1552", "cause": "SUBMISSION_DOES_NOT_EXIST"}
    first = attempt(api, token, psid, fake_face_image(1), fake_face_image(2))
    assert first["nextAction"] == "RETRY"
    assert api.status(token, psid, first["submissionId"]).json()["data"]["attemptsRemaining"] == 2
    # the user starts a second attempt and leaves before confirming it
    opened = api.presign(token, psid).json()["data"]
    assert api.upload(opened["documents"]["SELFIE"]["documentUrl"], fake_face_image(1)).status_code == 200
    with api.server.services.db.session() as session:
        blob = session.get(Submission, opened["submissionId"]).selfie_blob  # type: ignore[union-attr]
    done = finish(api, psid)
    assert done.status_code == 200, done.text
    data = done.json()["data"]
    assert (data["status"], data["result"], data["reasonCode"], data["submissionId"]) == (
        "COMPLETED",
        "INVALID",
        "FACE_MATCH_FAILED",
        first["submissionId"],
    )
    assert "attempts" not in data
    payload = signed_callback(api, hooks, psid)
    assert (payload["status"], payload["submissionId"]) == ("COMPLETED", first["submissionId"])
    assert finish(api, psid).json()["data"]["submissionId"] == first["submissionId"]  # harmless again
    assert callbacks(api, psid) == 1
    with api.server.services.db.session() as session:
        assert session.get(Submission, opened["submissionId"]) is None  # the open attempt is gone
    with pytest.raises(Exception):  # noqa: B017 - the store's own not-found error
        api.server.services.blobs.get(blob)
    after = api.presign(token, psid)
    assert after.status_code == 409 and after.json()["errors"][0]["cause"] == "SUBMISSION_STATE_CONFLICT"
    finished = api.status(token, psid, first["submissionId"]).json()["data"]
    assert (finished["nextAction"], finished["attemptsRemaining"]) == ("STATUS", 0)  # none, as presign says


def test_finish_errors(api: Api) -> None:
    missing = finish(api, None)
    assert missing.status_code == 400
    assert missing.json()["errors"][0] == {"code": "1539", "cause": "X_PARTNER_SESSION_ID_CAN_NOT_BE_EMPTY"}
    unknown = finish(api, str(uuid.uuid4()))
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["code"] == "1552"
    no_token = api.http.post("/coe-partner/v1/sessions/finish", headers={"x-partner-session-id": "x"})
    assert no_token.status_code == 401 and no_token.json()["errors"][0]["cause"] == "UNAUTHORIZED"
    other = make_api(api.server)
    _, psid = sdk_session(api)
    assert finish(other, psid).json()["errors"][0]["cause"] == "SUBMISSION_DOES_NOT_EXIST"  # not theirs
    other.http.close()


def test_the_retry_window_makes_an_abandoned_session_final(with_hooks: Api, hooks: Receiver) -> None:
    api = with_hooks
    shown = api.server.services
    with shown.db.session() as session:
        session.get(Partner, api.creds.partner_id).retry_window_s = 1  # type: ignore[union-attr]
    token, psid = sdk_session(api)
    first = attempt(api, token, psid, fake_face_image(1), fake_face_image(2))
    sweep_abandoned(shown)
    assert callbacks(api, psid) == 0  # within the window: untouched
    assert api.details(x_partner_session_id=psid).json()["data"]["status"] == "IN_PROGRESS"
    later = ManualClock(utcnow() + timedelta(seconds=2))  # the window has passed for the sweep
    assert sweep_abandoned(dataclasses.replace(shown, clock=later)) >= 1
    data = api.details(x_partner_session_id=psid).json()["data"]
    assert (data["status"], data["result"], data["submissionId"]) == (
        "COMPLETED",
        "INVALID",
        first["submissionId"],
    )
    assert signed_callback(api, hooks, psid)["reasonCode"] == "FACE_MATCH_FAILED"
