"""Model manifest, file checks, and the one place ONNX runtimes are built.

Models are declared, not guessed: ``manifest.json`` names each file, its sha256, role, input size
and version; the recognizer's entry names its calibration file. An operator may swap in another
recognizer (an ONNX file taking 112x112 aligned RGB faces) together with a calibration file that
records the model's sha256, so a model can never run with another model's thresholds.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from facematch.engine.calibrate import Calibration
from facematch.engine.onnxfile import prune_graph_inputs
from facematch.errors import ModelError

_MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One manifest entry, resolved to a file on disk."""

    name: str
    role: str
    path: Path
    sha256: str
    runtime: str
    input_size: tuple[int, int]
    version: str


def _engine_resource(name: str) -> Path:
    return Path(str(resources.files("facematch.engine").joinpath(name)))


def load_manifest() -> dict[str, Any]:
    """The bundled model manifest."""
    data: dict[str, Any] = json.loads(_engine_resource(_MANIFEST).read_text(encoding="utf-8"))
    return data


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _spec(entry: dict[str, Any]) -> ModelSpec:
    try:
        path = Path(str(resources.files(entry["package"]).joinpath(entry["resource"])))
    except ModuleNotFoundError as error:
        raise ModelError(f"model package {entry['package']!r} is not installed") from error
    return ModelSpec(
        name=entry["name"],
        role=entry["role"],
        path=path,
        sha256=entry["sha256"],
        runtime=entry["runtime"],
        input_size=(int(entry["input_size"][0]), int(entry["input_size"][1])),
        version=entry["version"],
    )


def verify(spec: ModelSpec) -> None:
    """Refuse a missing model file or one whose sha256 differs from its declaration."""
    if not spec.path.is_file():
        raise ModelError(f"{spec.role} model not found at {spec.path}")
    actual = sha256_file(spec.path)
    if actual != spec.sha256:
        raise ModelError(f"{spec.role} model {spec.path.name} has sha256 {actual}, expected {spec.sha256}")


def bundled_detector() -> ModelSpec:
    spec = _spec(load_manifest()["detector"])
    verify(spec)
    return spec


def bundled_recognizer() -> tuple[ModelSpec, Calibration]:
    entry = load_manifest()["recognizer"]
    spec = _spec(entry)
    verify(spec)
    calibration = Calibration.from_file(_engine_resource(entry["calibration"]))
    return spec, calibration


def custom_recognizer(model: Path, calibration_file: Path) -> tuple[ModelSpec, Calibration]:
    """An operator's recognizer: the calibration file must name the model's sha256."""
    calibration = Calibration.from_file(calibration_file)
    if not calibration.model_sha256:
        raise ModelError(f"{calibration_file} does not record the model's sha256")
    spec = ModelSpec(
        name=model.stem,
        role="recognizer",
        path=model,
        sha256=calibration.model_sha256,
        runtime="onnxruntime",
        input_size=(112, 112),
        version=calibration.model_version or model.stem,
    )
    verify(spec)
    return spec, calibration


class Detector:
    """YuNet through OpenCV's FaceDetectorYN (its int8 file does not run in onnxruntime).

    A FaceDetectorYN object holds per-call state, so each thread gets its own. It also keeps its
    network's buffers sized for the largest input it has run on, for as long as it lives (about
    66 bytes per input pixel: 380 MB after the 2400-pixel pass that an image without a face gets),
    so a thread's detector is dropped after any input larger than :data:`KEEP_INPUT_PIXELS` and
    made again for its next call (about 10 ms, beside the second such a pass costs).
    """

    #: inputs up to this size (the ordinary passes, 640 pixels a side) leave the detector in place
    KEEP_INPUT_PIXELS = 1024 * 1024

    def __init__(self, spec: ModelSpec, *, score_threshold: float = 0.6, nms_threshold: float = 0.3) -> None:
        self.spec = spec
        self._score_threshold = score_threshold
        self._nms_threshold = nms_threshold
        self._local = threading.local()

    def _detector(self) -> Any:
        detector = getattr(self._local, "detector", None)
        if detector is None:
            detector = cv2.FaceDetectorYN.create(
                str(self.spec.path),
                "",
                self.spec.input_size,
                self._score_threshold,
                self._nms_threshold,
                5000,
            )
            self._local.detector = detector
        return detector

    def detect(self, bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Rows of (x, y, w, h, 5 landmark x/y pairs, score) in ``bgr``'s pixels."""
        detector = self._detector()
        height, width = bgr.shape[:2]
        detector.setInputSize((width, height))
        try:
            _, faces = detector.detect(bgr)
        finally:
            if width * height > self.KEEP_INPUT_PIXELS:
                self._local.detector = None  # its buffers go with it
        if faces is None:
            return np.zeros((0, 15), dtype=np.float32)
        return np.asarray(faces, dtype=np.float32).reshape(-1, 15)


def prepare_onnx(path: Path) -> bytes:
    """The model file's bytes, with graph inputs that no node reads (or that an initializer
    provides) dropped, so that any runtime accepts it.

    The bundled SFace file lists its original fp32 weight names as such inputs; onnxruntime then
    demands them at run time and OpenCV cannot choose the real input. Nothing else changes: its
    block-quantised int8 weights are folded to fp32 once by the runtime when the network is built
    (OpenCV's importer folds the constant DequantizeLinear nodes), not by facematch at every load.
    """
    return prune_graph_inputs(path.read_bytes())[0]


class Recognizer:
    """An ONNX recognizer: aligned 112x112 RGB crops in, L2-normalised templates out.

    ``runtime`` comes from the manifest: "opencv" (cv2.dnn; one network per thread, since a
    cv2.dnn.Net holds per-call state) or "onnxruntime" (one session shared by every thread;
    its ``run`` is thread-safe).
    """

    def __init__(self, spec: ModelSpec, *, threads: int = 1) -> None:
        self.spec = spec
        try:
            self._model_bytes: bytes = prepare_onnx(spec.path)
        except (OSError, ModelError) as error:
            raise ModelError(f"cannot read recognizer {spec.path.name}: {error}") from error
        self._local = threading.local()
        self._session: Any = None
        if spec.runtime == "onnxruntime":
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            try:
                self._session = ort.InferenceSession(
                    self._model_bytes, options, providers=["CPUExecutionProvider"]
                )
            except Exception as error:
                raise ModelError(f"cannot load recognizer {spec.path.name}: {error}") from error
            self._input = self._session.get_inputs()[0].name
        elif spec.runtime == "opencv":
            self._net()  # fail at load time, not on the first request
        else:
            raise ModelError(f"unknown runtime {spec.runtime!r} for {spec.path.name}")

    def _net(self) -> Any:
        net = getattr(self._local, "net", None)
        if net is None:
            try:
                net = cv2.dnn.readNetFromONNX(np.frombuffer(self._model_bytes, dtype=np.uint8))
            except cv2.error as error:
                raise ModelError(f"cannot load recognizer {self.spec.path.name}: {error}") from error
            self._local.net = net
        return net

    def _forward(self, blob: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        if self._session is not None:
            return np.asarray(self._session.run(None, {self._input: blob})[0], dtype=np.float32)
        net = self._net()
        net.setInput(blob)
        return np.asarray(net.forward(), dtype=np.float32)

    def features(self, crops_rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """Raw (unnormalised) features for a batch of (N, 112, 112, 3) RGB crops (pixel values 0-255).

        OpenCV runs the batch as one forward pass; onnxruntime one crop at a time (an operator's
        model may declare a batch of one).
        """
        batch = np.ascontiguousarray(crops_rgb.transpose(0, 3, 1, 2), dtype=np.float32)
        if self._session is None:
            return self._forward(batch).reshape(len(batch), -1)
        return np.concatenate([self._forward(batch[i : i + 1]).reshape(1, -1) for i in range(len(batch))])

    def embed(self, crops_rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        """L2-normalised templates for a batch of (N, 112, 112, 3) RGB crops (pixel values 0-255)."""
        return normalise(self.features(crops_rgb))


def normalise(features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Rows scaled to unit length."""
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    normalised: npt.NDArray[np.float32] = (features / np.maximum(norms, 1e-12)).astype(np.float32)
    return normalised
