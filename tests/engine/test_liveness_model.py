"""The real engine observes turned faces, and a photo moved as a print would be (a homography per
frame) shows no depth: the verdict fails it however the print is turned."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from facematch.engine.facade import FaceEngine
from facematch.engine.images import decode_image, encode_jpeg
from facematch.engine.liveness import ChallengeFrame, Move, Tolerances, judge, random_challenge, texture
from facematch.engine.liveness import pose as head
from facematch.engine.presentation import CardPose, planar_view
from facematch.engine.types import FrameObservation

pytestmark = pytest.mark.model


def _observe(engine: FaceEngine, rgb: np.ndarray) -> FrameObservation:
    return engine.observe(decode_image(encode_jpeg(rgb, quality=85)))


@pytest.fixture(scope="module")
def photo(faces_dir: Path) -> np.ndarray:
    return decode_image((faces_dir / "images" / "obama.jpg").read_bytes()).rgb


def test_observe_sees_a_turned_face_that_the_selfie_gates_would_refuse(
    engine: FaceEngine, photo: np.ndarray
) -> None:
    turned = _observe(engine, planar_view(photo, CardPose(yaw=50.0))[0])
    assert turned.face_count == 1 and len(turned.landmarks) == 5 and turned.template is not None
    assert _observe(engine, np.full((240, 320, 3), 90, np.uint8)).face_count == 0


@pytest.mark.parametrize(("yaw", "pitch"), [(35, 0), (-35, 0), (30, 20), (-30, -20), (45, 10), (-45, 15)])
def test_a_print_turned_or_tilted_shows_no_parallax(
    engine: FaceEngine, photo: np.ndarray, yaw: int, pitch: int
) -> None:
    front = _observe(engine, planar_view(photo, CardPose())[0])
    turned = _observe(engine, planar_view(photo, CardPose(yaw=yaw, pitch=pitch, distance=0.9))[0])
    parallax = head.parallax(head.as_landmarks(front.landmarks), head.as_landmarks(turned.landmarks))
    assert abs(parallax) < Tolerances(same_person=0.0).depth


@pytest.mark.parametrize("seed", range(3))
def test_a_print_moved_through_a_challenge_fails_the_depth_check(
    engine: FaceEngine, photo: np.ndarray, seed: int
) -> None:
    challenge = random_challenge(random.Random(seed), now=1000.0)
    rng = np.random.default_rng(seed)
    poses = [CardPose()] * 3
    for move in challenge.moves:
        if move is Move.COME_CLOSER:
            poses += [CardPose(distance=0.8), CardPose(distance=0.7), CardPose()]
        else:
            sign = 1 if move is Move.TURN_LEFT else -1
            poses += [CardPose(yaw=sign * a, pitch=rng.uniform(-25, 25)) for a in (20, 40, 45)] + [CardPose()]
    frames = [
        ChallengeFrame(challenge.nonce, 1001.0 + 0.3 * i, _observe(engine, planar_view(photo, p)[0]))
        for i, p in enumerate(poses)
    ]
    selfie = ChallengeFrame(challenge.nonce, frames[-1].at + 0.3, frames[0].observation)
    verdict = judge(challenge, frames, selfie, Tolerances(same_person=engine.calibration.threshold_for(1e-3)))
    assert not verdict.passed
    assert not verdict.check("DEPTH").passed
    assert verdict.check("SAME_PERSON").passed  # the one photo throughout: only its flatness gives it away


@pytest.mark.parametrize(("yaw", "pitch"), [(40, 0), (-50, 30), (55, -35)])
def test_a_prints_texture_is_one_plane_from_any_angle(
    engine: FaceEngine, photo: np.ndarray, yaw: int, pitch: int
) -> None:
    front = _observe(engine, planar_view(photo, CardPose())[0])
    turned = _observe(engine, planar_view(photo, CardPose(yaw=yaw, pitch=pitch))[0])
    assert front.face_patch is not None and turned.face_patch is not None
    share = texture.flat_share(texture.features(front.face_patch), texture.features(turned.face_patch))
    assert share > 0.5  # most matches fit one homography
