"""The fake engine other layers test with behaves like the real one at its interface."""

from __future__ import annotations

import pytest

from facematch.engine.fake import FakeEngine, fake_face_image
from facematch.engine.types import Role
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
    assert engine.analyze(fake_face_image(1, faces=2), Role.REFERENCE).faces_found == 2
    with pytest.raises(NoFaceError):
        engine.analyze(fake_face_image(1, faces=0), Role.SELFIE)
    with pytest.raises(FaceQualityError) as quality:
        engine.analyze(fake_face_image(1, quality_issue="FACE_TOO_DARK"), Role.SELFIE)
    assert quality.value.reasons == ("FACE_TOO_DARK",)
    with pytest.raises(CorruptImageError):
        engine.analyze(fake_face_image(1)[:40], Role.SELFIE)


def test_blur_refuses_a_selfie_but_not_a_reference() -> None:
    engine = FakeEngine()
    blurred = fake_face_image(4, quality_issue="FACE_BLURRED")
    with pytest.raises(FaceQualityError):
        engine.analyze(blurred, Role.SELFIE)
    assert engine.analyze(blurred, Role.REFERENCE).quality.ok
