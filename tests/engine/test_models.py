"""Models are declared: sha256-checked, with their calibration bound to them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from facematch.engine.facade import EngineOptions, FaceEngine
from facematch.engine.models import bundled_detector, bundled_recognizer, load_manifest, sha256_file
from facematch.errors import ModelError


def test_manifest_declares_both_models() -> None:
    manifest = load_manifest()
    assert manifest["detector"]["role"] == "detector"
    assert manifest["recognizer"]["role"] == "recognizer"
    assert manifest["recognizer"]["input_size"] == [112, 112]
    spec = bundled_detector()
    assert sha256_file(spec.path) == manifest["detector"]["sha256"]
    spec, calibration = bundled_recognizer()
    assert calibration.model_sha256 == spec.sha256


def test_custom_recognizer_needs_a_matching_calibration(tmp_path: Path) -> None:
    spec, calibration = bundled_recognizer()
    model = tmp_path / "mine.onnx"
    shutil.copy(spec.path, model)
    with pytest.raises(ModelError):
        FaceEngine.load(EngineOptions(recognizer_model=model))
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**calibration.to_dict(), "model_sha256": "0" * 64}))
    with pytest.raises(ModelError, match="sha256"):
        FaceEngine.load(EngineOptions(recognizer_model=model, recognizer_calibration=wrong))
    right = tmp_path / "right.json"
    right.write_text(json.dumps({**calibration.to_dict(), "model_version": "mine-1"}))
    engine = FaceEngine.load(
        EngineOptions(recognizer_model=model, recognizer_calibration=right, target_far=1e-2)
    )
    assert engine.model_version.endswith("mine-1")
    assert engine.threshold == pytest.approx(calibration.threshold_for(1e-2))


def test_altered_model_file_is_refused(tmp_path: Path) -> None:
    spec, calibration = bundled_recognizer()
    model = tmp_path / "tampered.onnx"
    model.write_bytes(spec.path.read_bytes()[:-10] + b"0123456789")
    cal = tmp_path / "cal.json"
    cal.write_text(json.dumps(calibration.to_dict()))
    with pytest.raises(ModelError):
        FaceEngine.load(EngineOptions(recognizer_model=model, recognizer_calibration=cal))
