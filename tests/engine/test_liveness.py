"""The liveness verdict on synthetic landmark sequences: a five-point head turned in 3D
(``fake.head_landmarks``) answers the challenge; a flat print of it slanted to fake the turns, a
wrong order, another nonce, late frames, a second face or another person's selfie do not."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import replace

import numpy as np
import pytest

from facematch.engine.fake import head_landmarks
from facematch.engine.liveness import (
    VERSION,
    Challenge,
    ChallengeFrame,
    ChallengePlan,
    LivenessResult,
    Move,
    Step,
    Tolerances,
    clip_frames,
    judge,
    pose,
    progress,
    random_challenge,
)
from facematch.engine.types import Box, FrameObservation

T0 = 1_000_000.0
TOLERANCES = Tolerances(same_person=0.5)
NONCE = "n" * 32


def template(person: int, jitter: int = 0) -> np.ndarray:
    """Person ``person``'s template, slightly different per frame (cosine ~0.95)."""
    base = np.random.default_rng(person).standard_normal(128)
    noise = np.random.default_rng(10_000 + jitter).standard_normal(128) * 0.3
    vector = base / np.linalg.norm(base) + noise / np.linalg.norm(base)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def observe(
    yaw_deg: float = 0.0,
    *,
    eye_px: float = 40.0,
    flat: bool = False,
    person: int = 1,
    faces: int = 1,
    jitter: int = 0,
) -> FrameObservation:
    if faces == 0:
        return FrameObservation(face_count=0, frame_width=320, frame_height=240)
    marks = head_landmarks(yaw_deg, eye_px=eye_px, flat=flat)
    array = pose.as_landmarks(marks)
    return FrameObservation(
        face_count=faces,
        frame_width=320,
        frame_height=240,
        box=Box(100, 60, 2 * eye_px, 2.4 * eye_px),
        landmarks=marks,
        yaw=pose.yaw(array),
        size=pose.face_size(array, 320),
        detector_score=0.9,
        template=template(person, jitter),
    )


def poses_for(moves: tuple[Move, ...]) -> list[tuple[float, float]]:
    """(yaw degrees, eye px) of each frame of a person doing ``moves``: frontal first, each turn
    there and back, coming closer and going back."""
    out = [(0.0, 40.0)] * 3
    for move in moves:
        if move is Move.COME_CLOSER:
            out += [(0.0, 44.0), (0.0, 50.0), (0.0, 51.0), (0.0, 44.0), (0.0, 40.0)]
        else:
            sign = 1 if move is Move.TURN_LEFT else -1
            out += [(sign * a, 40.0) for a in (10.0, 24.0, 32.0, 30.0, 12.0, 0.0)]
    return out


def frames_for(
    challenge: Challenge, *, flat: bool = False, person: int = 1, step: float = 0.3, start: float = 1.0
) -> tuple[list[ChallengeFrame], ChallengeFrame]:
    frames = [
        ChallengeFrame(
            challenge.nonce,
            challenge.issued_at + start + i * step,
            observe(yaw, eye_px=eye, flat=flat, person=person, jitter=i),
        )
        for i, (yaw, eye) in enumerate(poses_for(challenge.moves))
    ]
    selfie = ChallengeFrame(challenge.nonce, frames[-1].at + step, observe(person=person, jitter=999))
    return frames, selfie


def challenge_of(*moves: Move, within_s: float = 6.0) -> Challenge:
    steps = tuple(Step(m, within_s) for m in moves)
    return Challenge(nonce=NONCE, steps=steps, issued_at=T0, deadline=T0 + 10 + 6 * len(steps) + 10)


def failed(verdict) -> set[str]:
    return {c.name for c in verdict.checks if not c.passed}


@pytest.mark.parametrize("seed", range(12))
def test_a_head_doing_any_random_challenge_passes_every_check(seed: int) -> None:
    challenge = random_challenge(random.Random(seed), now=T0)
    frames, selfie = frames_for(challenge)
    verdict = judge(challenge, frames, selfie, TOLERANCES)
    assert verdict.result is LivenessResult.PASSED, verdict.checks
    assert verdict.version == VERSION
    assert [c.name for c in verdict.checks] == [
        "NONCE",
        "TIMING",
        "CADENCE",
        "ONE_FACE",
        "MOVES",
        "DEPTH",
        "SAME_PERSON",
        "FLAT_TEXTURE",
    ]
    assert verdict.check("MOVES").value == len(challenge.steps)
    assert verdict.check("DEPTH").value > TOLERANCES.depth


def test_a_flat_print_slanted_to_fake_the_turns_makes_the_moves_but_fails_depth() -> None:
    challenge = challenge_of(Move.TURN_LEFT, Move.COME_CLOSER, Move.TURN_RIGHT)
    frames, selfie = frames_for(challenge, flat=True)
    verdict = judge(challenge, frames, selfie, TOLERANCES)
    assert verdict.result is LivenessResult.FAILED
    assert failed(verdict) == {"DEPTH"}
    assert verdict.check("MOVES").passed
    assert abs(verdict.check("DEPTH").value) < 1e-6


@pytest.mark.parametrize(
    ("done", "asked"),
    [
        ((Move.TURN_RIGHT, Move.TURN_LEFT), (Move.TURN_LEFT, Move.TURN_RIGHT)),
        ((Move.TURN_LEFT, Move.COME_CLOSER, Move.TURN_RIGHT), (Move.TURN_LEFT, Move.TURN_RIGHT)),
        ((Move.TURN_LEFT, Move.TURN_RIGHT), (Move.TURN_LEFT, Move.TURN_RIGHT, Move.COME_CLOSER)),
        ((Move.TURN_LEFT, Move.TURN_RIGHT, Move.TURN_LEFT), (Move.TURN_LEFT, Move.TURN_RIGHT)),
    ],
    ids=["reversed", "an extra move", "a missing move", "shaken both ways"],
)
def test_moves_must_be_exactly_the_steps_in_order(done: tuple[Move, ...], asked: tuple[Move, ...]) -> None:
    frames, selfie = frames_for(challenge_of(*done))
    verdict = judge(challenge_of(*asked), frames, selfie, TOLERANCES)
    assert "MOVES" in failed(verdict)


def test_a_step_slower_than_its_window_fails_moves() -> None:
    challenge = challenge_of(Move.TURN_LEFT, Move.TURN_RIGHT, within_s=1.0)
    frames, selfie = frames_for(challenge, step=0.5)
    verdict = judge(challenge, frames, selfie, TOLERANCES)
    assert failed(verdict) == {"MOVES"}
    assert verdict.check("MOVES").value == 0


def test_frames_or_a_selfie_sent_for_another_nonce_fail() -> None:
    challenge = challenge_of(Move.TURN_LEFT, Move.TURN_RIGHT)
    frames, selfie = frames_for(challenge)
    frames[4] = replace(frames[4], nonce="other")
    verdict = judge(challenge, frames, selfie, TOLERANCES)
    assert failed(verdict) == {"NONCE"}
    assert verdict.check("NONCE").value == 1
    frames, selfie = frames_for(challenge)
    assert failed(judge(challenge, frames, replace(selfie, nonce="other"), TOLERANCES)) == {"NONCE"}


@pytest.mark.parametrize(
    "shift",
    ["before the issue", "after the deadline", "out of order", "selfie after the deadline"],
)
def test_frames_outside_the_challenges_time_fail_timing(shift: str) -> None:
    challenge = challenge_of(Move.TURN_LEFT, Move.TURN_RIGHT)
    frames, selfie = frames_for(challenge)
    if shift == "before the issue":
        frames, selfie = frames_for(challenge, start=-0.5)
    elif shift == "after the deadline":
        frames, selfie = frames_for(challenge, start=challenge.deadline - T0 - 1)
    elif shift == "out of order":
        frames[5], frames[6] = frames[6], frames[5]
        frames[5] = replace(frames[5], at=frames[6].at + 0.3)
    else:
        selfie = replace(selfie, at=challenge.deadline + 0.1)
    assert "TIMING" in failed(judge(challenge, frames, selfie, TOLERANCES))


def test_implausible_streams_fail_cadence() -> None:
    challenge = challenge_of(Move.TURN_LEFT, Move.TURN_RIGHT)
    frames, selfie = frames_for(challenge, step=0.01)  # a burst, not a camera at a low rate
    assert "CADENCE" in failed(judge(challenge, frames, selfie, TOLERANCES))
    frames, selfie = frames_for(challenge)
    frames = frames[:5] + [replace(f, at=f.at + 4.0) for f in frames[5:]]  # a 4 s hole
    selfie = replace(selfie, at=selfie.at + 4.0)
    verdict = judge(challenge, frames, selfie, TOLERANCES)
    assert failed(verdict) == {"CADENCE"}
    assert verdict.check("CADENCE").value == pytest.approx(4.3)
    assert "CADENCE" in failed(judge(challenge, frames[:4], selfie, TOLERANCES))


def test_one_face_per_frame() -> None:
    challenge = challenge_of(Move.TURN_LEFT, Move.TURN_RIGHT)
    frames, selfie = frames_for(challenge)
    two_faces = replace(frames[7].observation, face_count=2)
    crowded = [replace(f, observation=two_faces) if i in (7, 8, 9) else f for i, f in enumerate(frames)]
    assert failed(judge(challenge, crowded, selfie, TOLERANCES)) == {"ONE_FACE"}
    assert "ONE_FACE" in failed(judge(challenge, frames, replace(selfie, observation=two_faces), TOLERANCES))
    # a frame or two without exactly one face (motion blur, a passer-by) is tolerated, three are not
    assert judge(challenge, crowded[:8] + frames[8:], selfie, TOLERANCES).passed
    empty = observe(faces=0)
    two = [replace(f, observation=empty) if i in (0, 12) else f for i, f in enumerate(frames)]
    assert judge(challenge, two, selfie, TOLERANCES).passed
    three = [replace(f, observation=empty) if i in (0, 12, 14) else f for i, f in enumerate(frames)]
    verdict = judge(challenge, three, selfie, TOLERANCES)
    assert failed(verdict) == {"ONE_FACE"}
    assert verdict.check("ONE_FACE").value == 3


def test_another_persons_selfie_or_a_swap_mid_stream_fails_same_person() -> None:
    challenge = challenge_of(Move.TURN_RIGHT, Move.TURN_LEFT)
    frames, selfie = frames_for(challenge)
    other = replace(selfie, observation=observe(person=2))
    verdict = judge(challenge, frames, other, TOLERANCES)
    assert failed(verdict) == {"SAME_PERSON"}
    assert verdict.check("SAME_PERSON").value < 0.5
    swapped = list(frames)
    swapped[5] = replace(swapped[5], observation=observe(-32.0, person=2))
    assert failed(judge(challenge, swapped, selfie, TOLERANCES)) == {"SAME_PERSON"}


def test_the_verdict_is_pure() -> None:
    challenge = random_challenge(random.Random(3), now=T0)
    frames, selfie = frames_for(challenge)
    assert judge(challenge, frames, selfie, TOLERANCES) == judge(challenge, frames, selfie, TOLERANCES)


def test_progress_names_the_next_move_and_notices_a_wrong_one() -> None:
    challenge = challenge_of(Move.TURN_LEFT, Move.COME_CLOSER, Move.TURN_RIGHT)
    frames, _ = frames_for(challenge)
    assert progress(challenge, frames[:3], TOLERANCES).next_move is Move.TURN_LEFT
    after_left = progress(challenge, frames[:9], TOLERANCES)
    assert (after_left.completed, after_left.next_move, after_left.off_track) == (1, Move.COME_CLOSER, False)
    assert progress(challenge, frames, TOLERANCES).next_move is None
    wrong, _ = frames_for(challenge_of(Move.TURN_RIGHT))
    assert progress(challenge, wrong, TOLERANCES).off_track
    # waiting for coming closer: on track within its window, off track once it has passed
    left_done = next(f.at for f in frames if f.observation.yaw >= TOLERANCES.moves.turn_yaw)
    assert not progress(challenge, frames[:9], TOLERANCES, now=left_done + 5.9).off_track
    assert progress(challenge, frames[:9], TOLERANCES, now=left_done + 6.1).off_track


def test_a_clips_frames_are_anchored_to_its_arrival() -> None:
    challenge = challenge_of(Move.TURN_LEFT, Move.TURN_RIGHT)
    recorded, selfie = frames_for(challenge)
    observed = [(round(f.at - recorded[0].at, 3), f.observation) for f in recorded]
    arrived = recorded[-1].at + 0.5
    frames = clip_frames(observed, nonce=challenge.nonce, received_at=arrived)
    assert frames[-1].at == arrived
    assert [round(b.at - a.at, 3) for a, b in itertools.pairwise(frames)] == [0.3] * (len(frames) - 1)
    assert judge(challenge, frames, replace(selfie, at=arrived), TOLERANCES).passed
    late = clip_frames(observed, nonce=challenge.nonce, received_at=challenge.deadline + 1)
    assert "TIMING" in failed(judge(challenge, late, replace(selfie, at=challenge.deadline + 1), TOLERANCES))


def test_random_challenges_ask_for_both_turns_from_the_injected_source() -> None:
    plan = ChallengePlan(within_s=5.0, start_s=8.0, finish_s=7.0)
    seen = set()
    for seed in range(60):
        challenge = random_challenge(random.Random(seed), now=T0, plan=plan)
        assert challenge == random_challenge(random.Random(seed), now=T0, plan=plan)
        moves = challenge.moves
        assert 2 <= len(moves) <= 3
        assert {Move.TURN_LEFT, Move.TURN_RIGHT} <= set(moves)
        assert len(set(moves)) == len(moves)
        assert all(step.within_s == 5.0 for step in challenge.steps)
        assert challenge.deadline == T0 + 8.0 + 5.0 * len(moves) + 7.0
        assert len(challenge.nonce) == 32
        int(challenge.nonce, 16)
        seen.add(moves)
    assert len(seen) == 8  # every order of both turns, with and without coming closer


def test_parallax_is_zero_for_any_view_of_a_flat_face_and_grows_with_a_real_turn() -> None:
    frontal = pose.as_landmarks(head_landmarks(0.0))
    rng = np.random.default_rng(0)
    for _ in range(50):
        homography = np.eye(3) + rng.normal(0, [[0.2, 0.2, 20], [0.2, 0.2, 20], [4e-4, 4e-4, 0]])
        points = np.c_[frontal, np.ones(5)] @ homography.T
        seen = points[:, :2] / points[:, 2:]
        assert abs(pose.parallax(frontal, seen)) < 1e-6
    values = [pose.parallax(frontal, pose.as_landmarks(head_landmarks(a))) for a in (10, 20, 30)]
    assert 0 < values[0] < values[1] < values[2]
    assert pose.parallax(frontal, pose.as_landmarks(head_landmarks(-20))) == pytest.approx(-values[1])
    # the yaw estimate: positive for a turn to the subject's left, about half the tangent
    assert pose.yaw(pose.as_landmarks(head_landmarks(30))) == pytest.approx(0.5 * math.tan(math.radians(30)))
    assert pose.yaw(pose.as_landmarks(head_landmarks(30, flat=True))) == pytest.approx(
        pose.yaw(pose.as_landmarks(head_landmarks(30)))
    )
