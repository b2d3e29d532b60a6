"""Guidance geometry: where the face sits relative to the on-screen oval."""

from __future__ import annotations

import pytest

from facematch.engine.types import Box, FaceCheck, ImageRole, Quality
from facematch.flows.web.guidance import Hint, hint_for_reasons, placement_hint


def _face(x: float, y: float, w: float, *, width: int = 640, height: int = 480) -> FaceCheck:
    quality = Quality(
        interocular_px=w * 0.4, sharpness=50, brightness=0.5, contrast=0.2, yaw=0, roll=0, detector_score=0.9
    )
    return FaceCheck(
        role=ImageRole.SELFIE,
        box=Box(x - w / 2, y - w * 0.6, w, w * 1.2),
        quality=quality,
        rotation=0,
        faces_found=1,
        image_width=width,
        image_height=height,
    )


@pytest.mark.parametrize(
    ("face", "hint"),
    [
        (_face(320, 228, 180), Hint.READY),  # centred, half the visible width (360 px of a 640x480 frame)
        (_face(320, 228, 60), Hint.MOVE_CLOSER),
        (_face(320, 228, 340), Hint.MOVE_BACK),
        (_face(200, 228, 180), Hint.CENTER_FACE),  # towards the cropped-away side
        (_face(320, 80, 180), Hint.CENTER_FACE),
        (_face(360, 160 + 0.475 * 960, 360, width=720, height=1280), Hint.READY),  # portrait camera
    ],
)
def test_placement(face: FaceCheck, hint: Hint) -> None:
    assert placement_hint(face) is hint


def test_quality_reasons_become_instructions() -> None:
    assert hint_for_reasons(("FACE_TOO_DARK",)) is Hint.MORE_LIGHT
    assert hint_for_reasons(("SOMETHING_NEW", "FACE_BLURRED")) is Hint.HOLD_STILL
    assert hint_for_reasons(("SOMETHING_NEW",)) is Hint.ADJUST
