"""The fake engine other layers test with behaves like the real one at its interface."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from facematch.engine.fake import FakeEngine, fake_face_image
from facematch.engine.images import decode_image
from facematch.engine.types import ImageRole
from facematch.errors import CorruptImageError, FaceQualityError, MultipleFacesError, NoFaceError


def test_same_and_different_people() -> None:
    engine = FakeEngine()
    assert engine.compare(fake_face_image(7), fake_face_image(7)).match
    assert not engine.compare(fake_face_image(7), fake_face_image(8)).match
    assert not engine.compare(fake_face_image(1), fake_face_image(128)).match


def test_failures_mirror_the_real_engine() -> None:
    engine = FakeEngine()
    with pytest.raises(MultipleFacesError) as raised:
        engine.compare(fake_face_image(1, faces=2), fake_face_image(1))
    assert raised.value.role == "selfie"
    assert engine.analyze(fake_face_image(1, faces=2), ImageRole.REFERENCE).faces_found == 2
    with pytest.raises(NoFaceError):
        engine.analyze(fake_face_image(1, faces=0), ImageRole.SELFIE)
    with pytest.raises(FaceQualityError) as quality:
        engine.analyze(fake_face_image(1, quality_issue="FACE_TOO_DARK"), ImageRole.SELFIE)
    assert quality.value.reasons == ("FACE_TOO_DARK",)
    with pytest.raises(CorruptImageError):
        engine.analyze(fake_face_image(1)[:40], ImageRole.SELFIE)


def test_blur_refuses_a_selfie_but_not_a_reference() -> None:
    engine = FakeEngine()
    blurred = fake_face_image(4, quality_issue="FACE_BLURRED")
    with pytest.raises(FaceQualityError):
        engine.analyze(blurred, ImageRole.SELFIE)
    assert engine.analyze(blurred, ImageRole.REFERENCE).quality.ok


def _fake_session(*, flat: bool = False, selfie_person: int = 5):
    """A challenge answered with fake frames of person 5 (the fake engine observes their pose)."""
    from facematch.engine.images import decode_image
    from facematch.engine.liveness import ChallengeFrame, Move, Step, Tolerances, judge
    from facematch.engine.liveness.challenge import Challenge

    engine = FakeEngine()
    challenge = Challenge("n", (Step(Move.TURN_LEFT, 6), Step(Move.TURN_RIGHT, 6)), 0.0, 60.0)
    yaws = [0, 0, 0, 12, 26, 32, 30, 10, 0, -12, -26, -32, -30, -10, 0]
    frames = [
        ChallengeFrame(
            "n", 1 + 0.3 * i, engine.observe(decode_image(fake_face_image(5, yaw_deg=y, flat=flat)))
        )
        for i, y in enumerate(yaws)
    ]
    selfie = ChallengeFrame("n", 6.0, engine.observe(decode_image(fake_face_image(selfie_person))))
    return judge(challenge, frames, selfie, Tolerances(same_person=engine.threshold))


def test_observe_reads_the_pose_and_a_liveness_verdict_follows_it() -> None:
    from facematch.engine.images import decode_image

    engine = FakeEngine()
    turned = engine.observe(decode_image(fake_face_image(3, yaw_deg=30, scale=1.5)))
    frontal = engine.observe(decode_image(fake_face_image(3)))
    assert turned.face_count == 1 and turned.yaw > 0.2 and abs(frontal.yaw) < 1e-9
    assert turned.size == pytest.approx(1.5 * frontal.size, rel=0.01)
    assert engine.observe(decode_image(fake_face_image(3, faces=2))).face_count == 2
    assert engine.observe(decode_image(fake_face_image(3, faces=0))).face_count == 0
    assert _fake_session().passed
    flat = _fake_session(flat=True)
    assert not flat.passed and not flat.check("DEPTH").passed and flat.check("MOVES").passed
    assert not _fake_session(selfie_person=6).check("SAME_PERSON").passed


@pytest.mark.parametrize("quality", [90, 50, 30])
def test_the_fake_reads_its_images_after_jpeg_re_encoding(quality: int) -> None:
    """Stored derivatives and browser frames are JPEGs: the fake must read them as it reads PNGs."""
    engine = FakeEngine()
    png = fake_face_image(4321, yaw_deg=-30, scale=1.3)
    jpeg = fake_face_image(4321, yaw_deg=-30, scale=1.3, fmt="JPEG")
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).save(out, format="JPEG", quality=quality)
    for image in (jpeg, out.getvalue()):
        analysis = engine.analyze(image, ImageRole.SELFIE)
        assert np.allclose(analysis.template, engine.analyze(png, ImageRole.SELFIE).template)
        assert engine.observe(decode_image(image)) == engine.observe(decode_image(png))
