"""Turned and tightly cropped grey, low-contrast faces: found upright and matched like upright ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import degrade
from facematch.engine.detect import Detection, _rotate_faces, _unrotate, rotate
from facematch.engine.facade import FaceEngine
from facematch.engine.images import decode_image
from facematch.engine.types import ImageRole

#: (probe photo, another photo of the same person)
SAME_PERSON = [
    ("obama2.jpg", "obama.jpg"),
    ("biden2.jpg", "biden.jpg"),
    ("lacamoire2.jpg", "lacamoire3.jpg"),
    ("leslie2.jpg", "leslie.jpg"),
]


def _grey_flat(faces_dir: Path, name: str) -> np.ndarray:
    """The photo grey with its tones flattened (a faded grey print)."""
    rgb = decode_image((faces_dir / "images" / name).read_bytes()).rgb
    return degrade.low_contrast(degrade.grey(rgb), gain=0.5, lift=60)


@pytest.mark.model
@pytest.mark.parametrize(("probe", "other"), SAME_PERSON)
@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
def test_grey_low_contrast_faces_in_four_rotations(
    engine: FaceEngine, faces_dir: Path, probe: str, other: str, degrees: int
) -> None:
    grey = _grey_flat(faces_dir, probe)
    turned = degrade.rotated(grey, degrees) if degrees else grey
    selfie = engine.analyze(degrade.encode(_grey_flat(faces_dir, other)), ImageRole.SELFIE)
    reference = engine.analyze(degrade.encode(turned), ImageRole.REFERENCE)
    assert reference.rotation == (360 - degrees) % 360
    result = engine.compare_analyses(selfie, reference)
    assert result.match, result.similarity
    upright = engine.compare_analyses(selfie, engine.analyze(degrade.encode(grey), ImageRole.REFERENCE))
    assert result.similarity == pytest.approx(upright.similarity, abs=0.05)


@pytest.mark.model
@pytest.mark.parametrize(("probe", "other"), SAME_PERSON[:2])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_grey_low_contrast_faces_in_eight_exif_orientations(
    engine: FaceEngine, faces_dir: Path, probe: str, other: str, orientation: int
) -> None:
    data = degrade.exif_rotated(_grey_flat(faces_dir, probe), orientation)
    result = engine.compare(degrade.encode(_grey_flat(faces_dir, other)), data)
    assert result.reference.rotation == 0  # EXIF is applied by the decoder, not found by search
    assert result.reference.greyscale
    assert result.match, result.similarity


@pytest.mark.model
def test_tight_grey_crops_are_acquired_and_match(engine: FaceEngine, faces_dir: Path) -> None:
    """92x112 grey, low-contrast crops of the face box with no margin (a cropped passport chip)."""
    failures = []
    for probe, other in SAME_PERSON:
        data = (faces_dir / "images" / probe).read_bytes()
        box = engine.analyze(data, ImageRole.REFERENCE).box
        crop = degrade.tight_crop(decode_image(data).rgb, box)
        tight = degrade.grey(degrade.low_contrast(crop))
        assert tight.shape == (112, 92, 3)
        try:
            result = engine.compare((faces_dir / "images" / other).read_bytes(), degrade.encode(tight))
        except Exception as error:  # any failure to acquire is what this test is about
            failures.append((probe, type(error).__name__))
            continue
        assert result.reference.quality.ok
        if not result.match:
            failures.append((probe, f"similarity {result.similarity:.3f}"))
    assert not failures


def _face(x: float, y: float, w: float, h: float) -> Detection:
    marks = np.array([[x + 0.3 * w, y + 0.4 * h], [x + 0.7 * w, y + 0.4 * h], [x + w / 2, y + 0.6 * h]] * 2)[
        :5
    ]
    return Detection(x, y, w, h, marks.astype(np.float64), 0.9)


@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
def test_coordinates_map_between_orientations(degrees: int) -> None:
    """A face at a known place, mapped into a turned image, lands on the same pixels."""
    image = np.zeros((60, 100, 3), np.uint8)
    image[10:30, 20:50] = 255  # the face's box
    face = _face(20, 10, 30, 20)
    turned = rotate(image, degrees)
    mapped = _rotate_faces([face], degrees, 100, 60)[0]
    box = turned[
        round(mapped.y) : round(mapped.y + mapped.height), round(mapped.x) : round(mapped.x + mapped.width)
    ]
    assert box.size and box.min() == 255 and int(turned.sum()) == int(box.sum())
    back = _unrotate([mapped], degrees, 100, 60)[0]
    np.testing.assert_allclose([back.x, back.y, back.width, back.height], [20, 10, 30, 20], atol=1e-6)
    np.testing.assert_allclose(back.landmarks, face.landmarks, atol=1e-6)
