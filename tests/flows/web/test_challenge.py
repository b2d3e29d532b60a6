"""The hosted flow's head-move challenge on a temporary database with the fake engine: frames are
checked on arrival and answered with guidance, the selfie closes the challenge, and the job's
verdict comes from the frames the server kept (then deleted)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from clipkit import fake_moves
from facematch.clock import ManualClock
from facematch.engine.fake import fake_face_image
from facematch.engine.images import encode_jpeg
from facematch.errors import LivenessChallengeError
from facematch.flows import processing
from facematch.flows.context import Services
from facematch.flows.web import capture as web_capture
from facematch.flows.web import challenge as web_challenge
from facematch.flows.web import session as web_session
from facematch.flows.web.session import Phase
from facematch.storage.models import LivenessFrame, Submission
from webkit import REFERENCE_PERSON, WebWorld, web_services

#: the page's frame rate
STEP_S = 0.3


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def live_svc(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Services]:
    services = dataclasses.replace(web_services(database_url, tmp_path), clock=clock)
    yield services
    services.db.dispose()


@pytest.fixture
def web(live_svc: Services) -> web_session.WebSession:
    partner = WebWorld(live_svc).partner(liveness="active")
    return WebWorld(live_svc).session(partner.partner.id)


def stream(
    svc: Services,
    web: web_session.WebSession,
    clock: ManualClock,
    *,
    flat: bool = False,
    person: int = REFERENCE_PERSON,
) -> tuple[str, list[web_challenge.Guidance]]:
    """Start a challenge and send the frames of a head (or a print) doing its moves, one every
    STEP_S; returns its nonce and the guidance of each frame."""
    issued = web_challenge.start(svc, web)
    moves = [move.value for move in issued.challenge.moves]
    answers = []
    for rgb in fake_moves(moves, person=person, flat=flat, hold=2):
        clock.advance(STEP_S)
        answers.append(web_challenge.receive_frame(svc, web, issued.challenge.nonce, encode_jpeg(rgb)))
    return issued.challenge.nonce, answers


def frames_kept(svc: Services) -> int:
    with svc.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(LivenessFrame)) or 0)


def test_a_live_head_is_guided_through_its_moves_and_the_selfie_passes(
    live_svc: Services, web: web_session.WebSession, clock: ManualClock
) -> None:
    nonce, answers = stream(live_svc, web, clock)
    assert answers[0].completed == 0 and answers[0].next_move is not None and answers[0].faces == 1
    assert answers[-1].completed in (2, 3) and answers[-1].next_move is None
    assert not any(a.off_track for a in answers)
    clock.advance(STEP_S)
    submission_id = web_capture.capture(live_svc, web, fake_face_image(REFERENCE_PERSON), nonce)
    assert frames_kept(live_svc) == len(answers)
    processing.process_submission(live_svc, submission_id)
    with live_svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None and submission.result == "VALID"
        liveness = submission.details["verificationResults"]["liveness"]
        assert liveness["result"] is True and all(c["passed"] for c in liveness["checks"])
    assert frames_kept(live_svc) == 0  # kept until the verdict only
    assert web_session.web_state(live_svc, web).phase is Phase.FINAL


def test_a_print_is_not_live_and_the_user_may_retry(
    live_svc: Services, web: web_session.WebSession, clock: ManualClock
) -> None:
    nonce, _ = stream(live_svc, web, clock, flat=True)
    clock.advance(STEP_S)
    submission_id = web_capture.capture(live_svc, web, fake_face_image(REFERENCE_PERSON), nonce)
    processing.process_submission(live_svc, submission_id)
    state = web_session.web_state(live_svc, web)
    assert (state.phase, state.retry_reason, state.attempts_left) == (Phase.RETRY, "NOT_LIVE", 2)
    # the retry is a new attempt with a new challenge
    nonce, _ = stream(live_svc, web, clock)
    clock.advance(STEP_S)
    second = web_capture.capture(live_svc, web, fake_face_image(REFERENCE_PERSON), nonce)
    assert second != submission_id
    processing.process_submission(live_svc, second)
    assert web_session.web_state(live_svc, web).outcome == "APPROVED"


def test_another_person_finishing_the_challenge_is_not_live(
    live_svc: Services, web: web_session.WebSession, clock: ManualClock
) -> None:
    nonce, _ = stream(live_svc, web, clock, person=99)
    submission_id = web_capture.capture(live_svc, web, fake_face_image(REFERENCE_PERSON), nonce)
    processing.process_submission(live_svc, submission_id)
    with live_svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None and submission.reason_code == "NOT_LIVE"
        checks = {
            c["name"]: c["passed"] for c in submission.details["verificationResults"]["liveness"]["checks"]
        }
        assert checks["SAME_PERSON"] is False


def test_frames_and_selfies_of_no_or_another_challenge_are_refused(
    live_svc: Services, web: web_session.WebSession, clock: ManualClock
) -> None:
    frame = encode_jpeg(fake_moves([])[0])
    with pytest.raises(LivenessChallengeError):
        web_challenge.receive_frame(live_svc, web, "0" * 32, frame)  # none issued yet
    first = web_challenge.start(live_svc, web)
    web_challenge.receive_frame(live_svc, web, first.challenge.nonce, frame)
    second = web_challenge.start(live_svc, web)  # a new challenge drops the first one's frames
    assert frames_kept(live_svc) == 0
    with pytest.raises(LivenessChallengeError):
        web_challenge.receive_frame(live_svc, web, first.challenge.nonce, frame)
    with pytest.raises(LivenessChallengeError):
        web_capture.capture(live_svc, web, fake_face_image(REFERENCE_PERSON), first.challenge.nonce)
    with pytest.raises(LivenessChallengeError):
        web_capture.capture(live_svc, web, fake_face_image(REFERENCE_PERSON))
    with pytest.raises(LivenessChallengeError):
        web_challenge.receive_frame(live_svc, web, second.challenge.nonce, b"x" * 200_000)  # too large
    with pytest.raises(LivenessChallengeError):
        web_challenge.receive_frame(live_svc, web, second.challenge.nonce, b"not an image")
    clock.advance(second.expires_in_s + 1)
    with pytest.raises(LivenessChallengeError):
        web_challenge.receive_frame(live_svc, web, second.challenge.nonce, frame)  # over
    assert frames_kept(live_svc) == 0


def test_a_challenge_takes_at_most_its_byte_budget(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    svc = dataclasses.replace(
        web_services(database_url, tmp_path, liveness={"challenge_max_bytes": 4000}), clock=clock
    )
    try:
        partner = WebWorld(svc).partner(liveness="active")
        web = WebWorld(svc).session(partner.partner.id)
        issued = web_challenge.start(svc, web)
        frame = encode_jpeg(fake_moves([])[0])
        sent = 0
        with pytest.raises(LivenessChallengeError):
            while True:
                clock.advance(STEP_S)
                web_challenge.receive_frame(svc, web, issued.challenge.nonce, frame)
                sent += len(frame)
        assert 0 < sent <= 4000 < sent + len(frame)
    finally:
        svc.db.dispose()


def test_a_flow_without_liveness_has_no_challenge(live_svc: Services) -> None:
    world = WebWorld(live_svc)
    web = world.session(world.partner().partner.id)
    with pytest.raises(LivenessChallengeError):
        web_challenge.start(live_svc, web)
    assert web_session.web_config(live_svc, web).liveness is False
    asked = world.session(world.partner().partner.id, liveness="active")
    assert web_session.web_config(live_svc, asked).liveness is True
