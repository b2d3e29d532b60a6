"""Calibration math: monotone score, thresholds per FAR, honest operating points."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from facematch.engine.calibrate import (
    Band,
    BandedImpostor,
    Calibration,
    calibrate_bands,
    calibrate_from_scores,
    far_upper_bound,
)
from facematch.engine.evaluation import BandTally
from facematch.engine.fake import FakeEngine, fake_face_image
from facematch.engine.models import bundled_recognizer
from facematch.errors import ModelError


@pytest.fixture(scope="module")
def bundled() -> Calibration:
    return bundled_recognizer()[1]


def test_bundled_operating_points_are_documented(bundled: Calibration) -> None:
    fars = sorted(p.far for p in bundled.operating_points)
    assert fars == [1e-4, 1e-3, 1e-2]
    for point in bundled.operating_points:
        assert point.source
        assert bundled.threshold_for(point.far) == point.threshold
    assert bundled.threshold_for(1e-3) == pytest.approx(0.363)


def test_score_is_monotone_and_anchored(bundled: Calibration) -> None:
    sims = np.linspace(-1, 1, 401)
    scores = [bundled.score(float(s)) for s in sims]
    assert all(0.0 < s < 1.0 for s in scores)
    assert all(b > a for a, b in itertools.pairwise(scores))
    assert bundled.score(bundled.threshold_for(1e-3)) == pytest.approx(0.5, abs=1e-6)
    assert bundled.score(bundled.threshold_for(1e-2)) == pytest.approx(0.269, abs=0.01)
    assert bundled.score(bundled.threshold_for(1e-4)) == pytest.approx(0.731, abs=0.01)


def test_far_is_monotone(bundled: Calibration) -> None:
    fars = [bundled.far(float(s)) for s in np.linspace(-0.5, 1.0, 151)]
    assert all(b <= a for a, b in itertools.pairwise(fars))
    assert fars[0] <= 1.0


def test_threshold_for_interpolates_between_points(bundled: Calibration) -> None:
    t = bundled.threshold_for(3e-3)
    assert bundled.threshold_for(1e-2) < t < bundled.threshold_for(1e-3)
    assert bundled.far(t) == pytest.approx(3e-3, rel=0.05)


def test_calibrate_from_scores_only_writes_points_the_data_supports() -> None:
    rng = np.random.default_rng(1)
    impostors = rng.normal(0.05, 0.1, 5000)
    calibration = calibrate_from_scores(impostors.tolist(), model_sha256="abc")
    points = {p.far: p for p in calibration.operating_points}
    assert set(points) == {1e-2, 1e-3}  # 5,000 pairs cannot support 1e-4 (needs 30,000)
    for far, point in points.items():
        observed = float(np.mean(impostors >= point.threshold))
        assert observed <= far
        assert point.impostor_pairs == 5000
        assert point.far_upper_95 is not None
        assert point.far_upper_95 >= observed
    assert calibration.far(points[1e-2].threshold) == pytest.approx(1e-2, rel=0.3)


def test_calibration_round_trips_through_json(tmp_path: Path) -> None:
    calibration = calibrate_from_scores(np.linspace(-0.3, 0.4, 400).tolist(), model_sha256="abc")
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(calibration.to_dict()))
    again = Calibration.from_file(path)
    assert again.knots == calibration.knots
    assert again.operating_points == calibration.operating_points


def test_broken_calibration_is_a_model_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"knots": [[0.5, -1.0], [0.1, -2.0]]}))
    with pytest.raises(ModelError):
        Calibration.from_file(path)
    with pytest.raises(ModelError):
        calibrate_from_scores([0.1] * 5)


def test_far_upper_bound_rule_of_three() -> None:
    assert far_upper_bound(0, 3000) == pytest.approx(1e-3, rel=0.01)
    assert far_upper_bound(0, 30000) == pytest.approx(1e-4, rel=0.01)
    assert 5 / 1000 < far_upper_bound(5, 1000) < 0.013


def test_bands_are_built_only_where_the_impostors_support_them() -> None:
    rng = np.random.default_rng(2)
    tiny = [BandedImpostor(float(s), 10.0, True) for s in rng.normal(0.15, 0.1, 4000)]
    small = [BandedImpostor(float(s), 15.0, False) for s in rng.normal(0.05, 0.1, 500)]
    large = [BandedImpostor(float(s), 40.0, False) for s in rng.normal(0.0, 0.1, 300)]
    bands, counted, general = calibrate_bands(tiny + small + large)
    assert counted == {"tiny": 4000, "small": 500, "general": 300}
    assert [b.name for b in bands] == ["tiny"]  # 500 pairs are too few for a band of their own
    assert len(general) == 800  # the small band's pairs fall back to the general curve
    tiny_band = bands[0]
    point = {p.far: p for p in tiny_band.curve.operating_points}[1e-3]
    assert point.impostor_pairs == 4000
    assert float(np.mean([p.similarity >= point.threshold for p in tiny])) <= 1e-3


def test_a_banded_calibration_round_trips_and_picks_the_poorer_faces_band(
    bundled: Calibration, tmp_path: Path
) -> None:
    curve = calibrate_from_scores(np.linspace(-0.2, 0.5, 3000).tolist())
    banded = bundled.with_bands([Band("tiny", 12.5, curve), Band("grey-small", 20.0, curve, greyscale=True)])
    path = tmp_path / "banded.json"
    path.write_text(json.dumps(banded.to_dict()))
    again = Calibration.from_file(path)
    assert [(b.name, b.max_interocular_px, b.greyscale) for b in again.bands] == [
        ("tiny", 12.5, None),
        ("grey-small", 20.0, True),
    ]
    assert again.bands[0].curve.knots == curve.knots
    assert again.curve_for(9.0, False)[0] == "tiny"
    assert again.curve_for(15.0, True)[0] == "grey-small"
    assert again.curve_for(15.0, False)[0] == "general"
    assert again.curve_for(15.0, False)[1] is again
    path.write_text(json.dumps({**banded.to_dict(), "bands": [banded.bands[0].to_dict()] * 2}))
    with pytest.raises(ModelError):
        Calibration.from_file(path)  # two bands of one name


def test_band_tally_counts_verdicts_per_band() -> None:
    result = FakeEngine().compare(fake_face_image(1), fake_face_image(2))
    tally = BandTally()
    tally.add(dataclasses.replace(result, band="tiny"), genuine=False)
    tally.add(dataclasses.replace(result, band="tiny", match=True), genuine=True)
    assert tally.counts == {"tiny": {"genuine": 1, "impostor": 1, "true_accepts": 1, "false_accepts": 0}}
    assert [(i.similarity, i.greyscale) for i in tally.impostors] == [(result.similarity, False)]
