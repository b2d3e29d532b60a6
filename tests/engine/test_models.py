"""Models are declared: sha256-checked, with their calibration bound to them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from facematch.engine.facade import EngineOptions, FaceEngine
from facematch.engine.models import bundled_detector, bundled_recognizer, load_manifest, sha256_file
from facematch.engine.onnxfile import graph_inputs, prune_graph_inputs
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


def test_bundled_recognizer_file_is_pruned_to_its_one_real_input() -> None:
    spec, _ = bundled_recognizer()
    raw = spec.path.read_bytes()
    assert len(graph_inputs(raw)) > 1  # the published file lists stray weight names as inputs
    pruned, dropped = prune_graph_inputs(raw)
    assert graph_inputs(pruned) == ["data"]
    assert dropped == len(graph_inputs(raw)) - 1
    assert prune_graph_inputs(pruned) == (pruned, 0)  # nothing left to drop: unchanged bytes


@pytest.mark.parametrize("junk", [b"", b"\x08", b"\x3a\xff\xff\xff\xff\x0f", b"not an onnx file at all"])
def test_malformed_model_bytes_are_a_model_error(junk: bytes) -> None:
    with pytest.raises(ModelError):
        prune_graph_inputs(junk)


def test_loading_the_engine_needs_no_onnx_matplotlib_or_tqdm() -> None:
    """Model load prepares nothing with the onnx package, and heavy CLI libraries stay unimported."""
    code = (
        "import sys, time; t = time.process_time();"
        "from facematch.engine.facade import FaceEngine; FaceEngine.load();"
        "print(time.process_time() - t);"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'onnx', 'matplotlib', 'tqdm'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600
    )
    seconds, modules = out.stdout.splitlines()[-2:]
    assert modules == "[]"
    assert float(seconds) < 30  # sanity only: timings belong to BENCHMARKS.md


RSS = """
from pathlib import Path

def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
"""


def test_a_detection_on_a_large_input_hands_its_buffers_back() -> None:
    """The 2400-pixel pass (an image without a face gets it) sized the thread's detector at about
    380 MB, kept for good; memory is measured in a process of its own, after a warm-up."""
    script = (
        RSS
        + """
import numpy as np
from facematch.engine.models import Detector, bundled_detector
from facematch.security.capacity import release_memory, tune_allocator

tune_allocator()
detector = Detector(bundled_detector())
for _ in range(3):
    detector.detect(np.full((640, 640, 3), 128, np.uint8))
release_memory()
warm = rss()
for _ in range(2):
    detector.detect(np.full((2400, 2400, 3), 128, np.uint8))
release_memory()
print(warm, rss())
"""
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    warm, after = (float(value) for value in out.stdout.split())
    assert after - warm < 100, (warm, after)  # a kept detector: about +380 MiB
