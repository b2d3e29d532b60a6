"""The service's engine keeps no face data after a request; quality bands decide tiny-portrait pairs."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

import degrade
from facematch.engine.calibrate import Band, Calibration
from facematch.engine.facade import EngineOptions, FaceEngine
from facematch.engine.images import decode_image
from facematch.engine.templates import AdaptedTemplates
from facematch.engine.types import ImageRole

pytestmark = pytest.mark.model


def _read(faces_dir: Path, name: str) -> bytes:
    return (faces_dir / "images" / name).read_bytes()


def _card(engine: FaceEngine, faces_dir: Path, name: str, face_px: int) -> bytes:
    data = _read(faces_dir, name)
    return degrade.id_card(
        decode_image(data).rgb, engine.analyze(data, ImageRole.REFERENCE).box, face_px, seed=3
    )


def test_the_engine_holds_nothing_of_a_compare_after_it(engine: FaceEngine, faces_dir: Path) -> None:
    """Crops and templates (condition matching included) are freed with the result: no cache keyed
    by analyses lives in the engine the service holds."""
    result = engine.compare(_read(faces_dir, "obama.jpg"), _card(engine, faces_dir, "obama2.jpg", 24))
    assert result.match
    assert result.reference.quality.interocular_px < result.selfie.quality.interocular_px * 0.7  # adapted
    held = [result.selfie.crop, result.reference.crop, result.selfie.template, result.reference.template]
    refs = [weakref.ref(array) for array in held if array is not None]
    assert len(refs) == 4
    del result, held
    gc.collect()
    assert [r() for r in refs] == [None] * 4
    caches = [v for v in vars(engine).values() if isinstance(v, AdaptedTemplates) or hasattr(v, "cache_info")]
    assert caches == []


def test_a_caller_owned_store_reuses_adapted_templates(engine: FaceEngine, faces_dir: Path) -> None:
    selfie = engine.analyze(_read(faces_dir, "obama.jpg"), ImageRole.SELFIE)
    cards = [
        engine.analyze(_card(engine, faces_dir, n, 24), ImageRole.REFERENCE)
        for n in ("obama2.jpg", "biden.jpg")
    ]
    store = AdaptedTemplates(maxsize=8)
    first = [engine.compare_analyses(selfie, c, store).similarity for c in cards]
    assert 1 <= len(store) <= 2
    again = [engine.compare_analyses(selfie, c, store).similarity for c in cards]
    plain = [engine.compare_analyses(selfie, c).similarity for c in cards]
    assert first == again
    assert first == pytest.approx(plain, abs=1e-6)
    small = AdaptedTemplates(maxsize=1)
    for c in cards:
        engine.compare_analyses(selfie, c, small)
    assert len(small) == 1


@pytest.fixture(scope="module")
def tiny_band() -> Calibration:
    """A band whose impostors reach higher similarities than the general curve says."""
    return Calibration(
        similarity="cosine", knots=((0.0, -0.5), (0.3, -2.0), (0.6, -4.0)), operating_points=(), method="test"
    )


def test_a_tiny_portrait_pair_reports_its_bands_threshold_and_far(
    engine: FaceEngine, faces_dir: Path, tiny_band: Calibration
) -> None:
    general = Calibration.from_dict({**engine.calibration.to_dict(), "bands": []})
    banded = general.with_bands([Band("tiny", 12.5, tiny_band)])
    options = EngineOptions(target_far=1e-3)
    banded_engine = FaceEngine(engine._detector, engine._recognizer, banded, options)
    selfie = _read(faces_dir, "obama.jpg")
    tiny = banded_engine.compare(selfie, _card(engine, faces_dir, "obama2.jpg", 24))
    assert tiny.reference.quality.interocular_px < 12.5
    assert tiny.band == "tiny"
    assert tiny.threshold == pytest.approx(tiny_band.threshold_for(1e-3))
    assert tiny.threshold != pytest.approx(general.threshold_for(1e-3))
    assert tiny.far_at_threshold == pytest.approx(tiny_band.far(tiny.threshold))
    assert tiny.score == pytest.approx(tiny_band.score(tiny.similarity))
    assert tiny.match == (tiny.similarity >= tiny.threshold)
    clean = banded_engine.compare(selfie, _read(faces_dir, "obama2.jpg"))
    assert clean.band == "general"
    assert clean.threshold == pytest.approx(general.threshold_for(1e-3))
    # a fixed operator threshold: every band decides there and reports its own FAR at it
    fixed = FaceEngine(engine._detector, engine._recognizer, banded, EngineOptions(threshold=0.3))
    tiny_fixed = fixed.compare(selfie, _card(engine, faces_dir, "obama2.jpg", 24))
    assert tiny_fixed.threshold == 0.3
    assert tiny_fixed.far_at_threshold == pytest.approx(tiny_band.far(0.3))
    assert tiny_fixed.far_at_threshold > general.far(0.3)


def test_the_bundled_calibration_has_measured_bands(engine: FaceEngine) -> None:
    bands = {band.name: band for band in engine.calibration.bands}
    assert set(bands) == {"tiny", "small"}
    for band in bands.values():
        assert band.curve.method.startswith("empirical impostor tail")
        points = {p.far: p for p in band.curve.operating_points}
        assert 1e-3 in points and points[1e-3].impostor_pairs >= 3000
        assert band.curve.threshold_for(1e-3) == points[1e-3].threshold
