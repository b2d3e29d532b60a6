"""The real engine on ../shared/faces: accuracy, subject choice, orientation and degraded inputs."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import degrade
from facematch.engine.facade import FaceEngine
from facematch.engine.images import decode_image
from facematch.engine.types import FaceAnalysis, ImageRole
from facematch.errors import (
    CorruptImageError,
    EmptyImageError,
    FaceError,
    FaceQualityError,
    ImageTooLargeError,
    MultipleFacesError,
    NoFaceError,
    UnsupportedImageFormatError,
)
from imagekit import png_declaring

pytestmark = pytest.mark.model

#: (probe photo, another photo of the same person) — derivatives of the probe must match the other
SAME_PERSON = [
    ("obama2.jpg", "obama.jpg"),
    ("biden2.jpg", "biden.jpg"),
    ("lacamoire2.jpg", "lacamoire3.jpg"),
    ("leslie2.jpg", "leslie.jpg"),
]


def _read(faces_dir: Path, name: str) -> bytes:
    return (faces_dir / "images" / name).read_bytes()


@pytest.fixture(scope="module")
def analyses(engine: FaceEngine, faces_dir: Path) -> dict[str, FaceAnalysis | str]:
    out: dict[str, FaceAnalysis | str] = {}
    for path in sorted((faces_dir / "images").iterdir()):
        try:
            out[path.name] = engine.analyze(path.read_bytes(), ImageRole.REFERENCE)
        except FaceError as error:
            out[path.name] = error.code
    return out


def test_labelled_pairs_at_the_default_threshold(
    engine: FaceEngine, faces_dir: Path, analyses: dict[str, FaceAnalysis | str]
) -> None:
    """≥ 99% of the labelled pairs (partial faces aside) decided correctly; misses are listed."""
    with (faces_dir / "pairs.csv").open() as handle:
        rows = [r for r in csv.DictReader(handle) if "partial" not in r["image_a"] + r["image_b"]]
    misses = []
    for row in rows:
        a, b = analyses[row["image_a"]], analyses[row["image_b"]]
        genuine = row["same_person"] == "yes"
        decided = False if isinstance(a, str) or isinstance(b, str) else engine.compare_analyses(a, b).match
        if decided != genuine:
            misses.append((row["image_a"], row["image_b"], genuine))
    assert len(rows) > 400
    correct = 1 - len(misses) / len(rows)
    assert correct >= 0.99, f"{correct:.2%} correct; misses: {misses}"


def test_results_carry_score_threshold_far_and_model(engine: FaceEngine, faces_dir: Path) -> None:
    result = engine.compare(_read(faces_dir, "obama2.jpg"), _read(faces_dir, "obama.jpg"))
    assert result.match
    assert 0.5 < result.score <= 1.0
    assert result.threshold == pytest.approx(engine.threshold)
    assert result.far_at_threshold == pytest.approx(1e-3, rel=0.05)
    assert result.model_version == engine.model_version
    assert result.selfie.faces_found == 1
    other = engine.compare(_read(faces_dir, "obama2.jpg"), _read(faces_dir, "biden.jpg"))
    assert not other.match
    assert other.score < 0.5 < result.score


@pytest.mark.parametrize(
    "name",
    [
        "couple.jpg",
        "harington_with_leslie.jpg",
        "obama_and_biden.jpg",
        "obama_biden_two_people.jpg",
        "selfie-many-people.jpg",
    ],
)
def test_multi_face_images(engine: FaceEngine, faces_dir: Path, name: str) -> None:
    """MULTIPLE_FACES as a selfie; as a reference, the primary (largest) face is chosen, stably."""
    data = _read(faces_dir, name)
    with pytest.raises(MultipleFacesError) as raised:
        engine.analyze(data, ImageRole.SELFIE)
    assert raised.value.code == "MULTIPLE_FACES"
    assert raised.value.role == "selfie"
    first = engine.analyze(data, ImageRole.REFERENCE)
    assert first.faces_found >= 2
    again = engine.analyze(data, ImageRole.REFERENCE)
    assert again.box == first.box


def _two_people(engine: FaceEngine, faces_dir: Path, large: str, small: str) -> bytes:
    """One photo of two people side by side, the head of ``large`` twice the size of ``small``'s."""
    canvas = np.full((800, 1400, 3), 128, np.uint8)
    for name, side, left in ((large, 600, 60), (small, 300, 900)):
        data = _read(faces_dir, name)
        box = engine.analyze(data, ImageRole.SELFIE).box
        rgb = decode_image(data).rgb
        cx, cy, half = box.x + box.width / 2, box.y + box.height / 2, box.height  # the head and around it
        top, bottom = max(0, int(cy - half)), min(rgb.shape[0], int(cy + half))
        left_edge, right_edge = max(0, int(cx - half)), min(rgb.shape[1], int(cx + half))
        head = cv2.resize(rgb[top:bottom, left_edge:right_edge], (side, side))
        canvas[100 : 100 + side, left : left + side] = head
    return degrade.encode(canvas, fmt="PNG")


@pytest.mark.parametrize(("large", "small"), [("obama.jpg", "biden.jpg"), ("biden.jpg", "obama.jpg")])
def test_reference_picks_the_largest_face(
    engine: FaceEngine, faces_dir: Path, large: str, small: str
) -> None:
    """Of two people in a reference, the subject is the larger face, whichever person that is."""
    reference = engine.analyze(_two_people(engine, faces_dir, large, small), ImageRole.REFERENCE)
    assert reference.faces_found == 2
    assert reference.box.x + reference.box.width < 900  # the face on the left: the large one
    large_person = engine.analyze(_read(faces_dir, large), ImageRole.SELFIE)
    small_person = engine.analyze(_read(faces_dir, small), ImageRole.SELFIE)
    assert engine.compare_analyses(large_person, reference).match
    assert not engine.compare_analyses(small_person, reference).match


@pytest.mark.parametrize(("probe", "other"), SAME_PERSON)
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientations_still_match(
    engine: FaceEngine, faces_dir: Path, probe: str, other: str, orientation: int
) -> None:
    rgb = decode_image(_read(faces_dir, probe)).rgb
    result = engine.compare(_read(faces_dir, other), degrade.exif_rotated(rgb, orientation))
    assert result.match, result.similarity
    assert result.reference.rotation == 0


@pytest.mark.parametrize(("probe", "other"), SAME_PERSON)
@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_pixel_rotations_still_match(
    engine: FaceEngine, faces_dir: Path, probe: str, other: str, degrees: int
) -> None:
    rgb = decode_image(_read(faces_dir, probe)).rgb
    result = engine.compare(_read(faces_dir, other), degrade.encode(degrade.rotated(rgb, degrees)))
    assert result.match, result.similarity
    assert result.reference.rotation == (360 - degrees) % 360


@pytest.mark.parametrize(("probe", "other"), SAME_PERSON)
@pytest.mark.parametrize("variant", ["face24", "grey", "jpeg30", "tight"])
def test_degraded_references_still_match(
    engine: FaceEngine, faces_dir: Path, probe: str, other: str, variant: str
) -> None:
    data = _read(faces_dir, probe)
    rgb = decode_image(data).rgb
    box = engine.analyze(data, ImageRole.REFERENCE).box
    derived = {
        "face24": lambda: degrade.encode(degrade.small_face(rgb, box, 24)),
        "grey": lambda: degrade.encode(degrade.grey(rgb)),
        "jpeg30": lambda: degrade.jpeg_crushed(rgb, 30),
        "tight": lambda: degrade.encode(degrade.tight_crop(rgb, box)),
    }[variant]()
    result = engine.compare(_read(faces_dir, other), derived)
    assert result.match, f"{variant}: similarity {result.similarity:.3f} < {result.threshold:.3f}"


def test_tiny_face_is_found_and_measured(engine: FaceEngine, faces_dir: Path) -> None:
    data = _read(faces_dir, "obama.jpg")
    box = engine.analyze(data, ImageRole.REFERENCE).box
    tiny = degrade.small_face(decode_image(data).rgb, box, 24)
    analysis = engine.analyze(degrade.encode(tiny), ImageRole.REFERENCE)
    assert 18 <= analysis.box.width <= 32
    assert analysis.quality.interocular_px < 15


def test_no_face(engine: FaceEngine) -> None:
    rgb = np.full((240, 320, 3), 200, dtype=np.uint8)
    with pytest.raises(NoFaceError) as raised:
        engine.analyze(degrade.encode(rgb), ImageRole.SELFIE)
    assert raised.value.role == "selfie"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", EmptyImageError),
        (b"GIF89a" + b"\0" * 100, UnsupportedImageFormatError),
        (b"\xff\xd8\xff\xe0" + b"\0" * 100, CorruptImageError),
    ],
)
def test_bad_inputs_raise_typed_errors_quickly(
    engine: FaceEngine, data: bytes, error: type[Exception]
) -> None:
    started = time.perf_counter()
    with pytest.raises(error):
        engine.compare(data, data)
    assert time.perf_counter() - started < 0.5


def test_truncated_and_bomb_inputs(engine: FaceEngine, faces_dir: Path) -> None:
    data = _read(faces_dir, "obama.jpg")
    with pytest.raises(CorruptImageError) as raised:
        engine.compare(_read(faces_dir, "obama2.jpg"), data[: len(data) // 3])
    assert raised.value.role == "reference"
    with pytest.raises(ImageTooLargeError):
        engine.analyze(png_declaring(20_000, 20_000), ImageRole.SELFIE)


def test_concurrent_use_gives_identical_results(engine: FaceEngine, faces_dir: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    names = ["obama.jpg", "biden.jpg", "leslie.jpg", "p_img1.jpg", "p_img10.jpg", "harington.jpg"]
    images = [_read(faces_dir, n) for n in names]
    serial = [engine.analyze(d, ImageRole.SELFIE).template for d in images]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda d: engine.analyze(d, ImageRole.SELFIE).template, images * 2))
    for i, template in enumerate(parallel):
        np.testing.assert_allclose(template, serial[i % len(images)], atol=1e-5)


@pytest.mark.parametrize(
    ("variant", "reason"),
    [("dark", "FACE_TOO_DARK"), ("blurred", "FACE_BLURRED"), ("tiny", "FACE_TOO_SMALL")],
)
def test_quality_failures_name_what_to_fix(
    engine: FaceEngine, faces_dir: Path, variant: str, reason: str
) -> None:
    """A usable-looking face of poor quality is refused with a reason, never scored low."""
    import cv2

    data = _read(faces_dir, "obama.jpg")
    rgb = decode_image(data).rgb
    box = engine.analyze(data, ImageRole.SELFIE).box
    image = {
        "dark": lambda: (rgb * 0.08).astype(np.uint8),
        "blurred": lambda: cv2.GaussianBlur(rgb, (0, 0), 9),
        "tiny": lambda: degrade.small_face(rgb, box, 14),
    }[variant]()
    with pytest.raises(FaceQualityError) as raised:
        engine.analyze(degrade.encode(image), ImageRole.SELFIE)
    assert raised.value.reasons[0] == reason
    assert raised.value.code == reason
    assert raised.value.role == "selfie"


def test_a_soft_reference_is_compared_not_refused(engine: FaceEngine, faces_dir: Path) -> None:
    """Blur is the user's to fix on a selfie; a reference's softness is the document's."""
    import cv2

    blurred = degrade.encode(cv2.GaussianBlur(decode_image(_read(faces_dir, "obama.jpg")).rgb, (0, 0), 9))
    with pytest.raises(FaceQualityError):
        engine.analyze(blurred, ImageRole.SELFIE)
    reference = engine.analyze(blurred, ImageRole.REFERENCE)
    assert reference.quality.ok
    assert reference.quality.sharpness < engine.gates.min_sharpness


def test_inspect_finds_what_analyze_finds_without_a_template(
    engine: FaceEngine, faces_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Live guidance's check: the same subject, box and quality (and the same refusals) as the full
    analysis, and the recognizer never runs on an upright photo."""
    names = ("obama.jpg", "p_img20.jpg", "harington3.jpg", "couple.jpg", "obama_partial_face.jpg")
    expected: dict[str, object] = {}
    for name in names:
        try:
            expected[name] = engine.analyze(_read(faces_dir, name), ImageRole.SELFIE)
        except FaceError as error:
            expected[name] = error.code

    def no_embedding(*_: object) -> None:
        raise AssertionError("inspect computed a template")

    monkeypatch.setattr(engine._recognizer, "features", no_embedding)
    for name in names:
        data = _read(faces_dir, name)
        for image in (data, decode_image(data)):
            try:
                check = engine.inspect(image, ImageRole.SELFIE)
            except FaceError as error:
                assert error.code == expected[name], name
                continue
            analysis = expected[name]
            assert isinstance(analysis, FaceAnalysis), name
            assert (check.box, check.quality, check.rotation, check.faces_found) == (
                analysis.box,
                analysis.quality,
                analysis.rotation,
                analysis.faces_found,
            )
            assert (check.image_width, check.image_height) == (analysis.image_width, analysis.image_height)
