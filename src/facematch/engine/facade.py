"""``FaceEngine``: the engine's small public API (load, analyze, compare).

One loaded engine serves concurrent callers: OpenCV networks (the detector, the bundled recognizer)
are built once per thread, an onnxruntime session is shared (its runs are thread-safe), and the
calibration is immutable.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from facematch.engine.align import CROP_SIZE, TEMPLATE_INTEROCULAR, align_face
from facematch.engine.calibrate import Calibration
from facematch.engine.detect import Detection, find_faces
from facematch.engine.images import decode_image
from facematch.engine.models import (
    Detector,
    Recognizer,
    bundled_detector,
    bundled_recognizer,
    custom_recognizer,
)
from facematch.engine.quality import QualityGates, measure
from facematch.engine.types import Box, FaceAnalysis, MatchResult, Role, Template
from facematch.errors import (
    FaceError,
    FaceQualityError,
    ImageError,
    ModelError,
    MultipleFacesError,
    NoFaceError,
)

#: a second selfie face at least this fraction of the subject's width makes the selfie ambiguous
COMPARABLE_FACE_RATIO = 0.5
#: below this many native pixels between the eyes, templates average over landmark jitter
SMALL_FACE_INTEROCULAR = 32.0
#: mean saturation (0-255) under which a face counts as grey
GREY_SATURATION = 18.0


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """What the engine needs to know; the service builds it from its settings."""

    recognizer_model: Path | None = None
    recognizer_calibration: Path | None = None
    target_far: float = 1e-3
    threshold: float | None = None
    max_image_bytes: int = 15 * 1024 * 1024
    max_image_pixels: int = 50_000_000
    max_full_decode_pixels: int = 4096 * 4096
    threads: int = 1
    flip_average: bool = False
    resolution_matching: bool = True
    small_face_jitter: bool = True


def choose_subject(faces: tuple[Detection, ...], role: Role) -> Detection:
    """The face the comparison is about.

    Selfie: the one dominant face; a second face of comparable size is ambiguous.
    Reference: the primary portrait, i.e. the largest face (ghost portraits and background
    faces are smaller). Ties break on score, then position, so the choice is deterministic.
    """
    if not faces:
        raise NoFaceError()
    ranked = sorted(faces, key=lambda f: (-f.width, -f.score, f.y, f.x))
    subject = ranked[0]
    if role is Role.SELFIE and len(ranked) > 1 and ranked[1].width >= COMPARABLE_FACE_RATIO * subject.width:
        raise MultipleFacesError(f"{len(ranked)} faces found; the selfie must show one person")
    return subject


def is_greyscale(crop: npt.NDArray[np.uint8]) -> bool:
    """Whether a face crop carries (almost) no colour: mean HSV saturation of its centre."""
    hsv = cv2.cvtColor(crop[24:104, 20:92], cv2.COLOR_RGB2HSV)
    return bool(hsv[:, :, 1].mean() < GREY_SATURATION)


def match_conditions(crop: npt.NDArray[np.uint8], side: int | None, *, grey: bool) -> npt.NDArray[np.uint8]:
    """``crop`` as it would look had the face been ``side`` pixels across at most, and/or grey."""
    out = crop
    if side is not None and side < CROP_SIZE:
        small = cv2.resize(out, (side, side), interpolation=cv2.INTER_AREA)
        out = np.asarray(cv2.resize(small, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_LINEAR), np.uint8)
    if grey:
        g = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
        out = np.stack([g, g, g], axis=-1)
    return np.ascontiguousarray(out)


def jittered_crops(
    image: npt.NDArray[np.uint8], landmarks: npt.NDArray[np.float64]
) -> list[npt.NDArray[np.uint8]]:
    """Alignments of a small face with its landmarks scaled by ±5% and shifted by 5% of the eye
    distance: on a face a few pixels wide the landmarks are uncertain by about that much, and
    averaging the templates over that uncertainty steadies them (measured in BENCHMARKS.md)."""
    centre = landmarks.mean(axis=0)
    eye = float(np.hypot(*(landmarks[1] - landmarks[0])))
    variants = [(landmarks - centre) * s + centre for s in (0.95, 1.05)]
    variants += [
        landmarks + np.array(shift) * eye for shift in ((0.05, 0), (-0.05, 0), (0, 0.05), (0, -0.05))
    ]
    return [align_face(image, marks) for marks in variants]


class FaceEngine:
    """Detect, align, quality-check and embed faces; compare them with a calibrated decision."""

    def __init__(
        self,
        detector: Detector,
        recognizer: Recognizer,
        calibration: Calibration,
        options: EngineOptions,
        gates: QualityGates | None = None,
    ) -> None:
        self._detector = detector
        self._recognizer = recognizer
        self.calibration = calibration
        self.options = options
        self.gates = gates or QualityGates()
        self.threshold = (
            options.threshold
            if options.threshold is not None
            else calibration.threshold_for(options.target_far)
        )
        self.target_far = (
            calibration.far(self.threshold) if options.threshold is not None else options.target_far
        )
        self._version = f"{detector.spec.version}+{recognizer.spec.version}"
        # one selfie meets many references in an evaluation: keep its adapted templates
        self._adapted = functools.lru_cache(maxsize=4096)(self._adapt)

    @classmethod
    def load(cls, options: EngineOptions | None = None) -> FaceEngine:
        """Load the bundled models (or the operator's recognizer) after checking their sha256."""
        options = options or EngineOptions()
        cv2.setNumThreads(options.threads)
        # OpenCV 5 warns on every network it builds that targets are not selectable; not actionable
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        detector = Detector(bundled_detector())
        if options.recognizer_model is not None:
            if options.recognizer_calibration is None:
                raise ModelError("a custom recognizer needs its calibration file")
            spec, calibration = custom_recognizer(options.recognizer_model, options.recognizer_calibration)
        else:
            spec, calibration = bundled_recognizer()
        return cls(detector, Recognizer(spec, threads=options.threads), calibration, options)

    @property
    def model_version(self) -> str:
        return self._version

    @property
    def recognizer_sha256(self) -> str:
        return self._recognizer.spec.sha256

    def analyze(self, image: bytes, role: Role) -> FaceAnalysis:
        """Decode ``image`` and return its subject face with quality and template.

        Raises an ImageError subclass for unusable bytes, NoFaceError, MultipleFacesError (selfie),
        or FaceQualityError with the reasons when the face cannot be compared reliably.
        """
        try:
            decoded = decode_image(
                image,
                max_bytes=self.options.max_image_bytes,
                max_pixels=self.options.max_image_pixels,
                max_full_decode_pixels=self.options.max_full_decode_pixels,
            )
            found = find_faces(self._detector, decoded.rgb)
            subject = choose_subject(found.faces, role)
            crop = align_face(found.image, subject.landmarks)
            quality = measure(subject, crop, decoded.scale, self.gates)
            if not quality.ok:
                raise FaceQualityError(reasons=quality.reasons)
        except (ImageError, FaceError) as error:
            error.role = role.value
            raise
        if self.options.small_face_jitter and quality.interocular_px < SMALL_FACE_INTEROCULAR:
            template = self._mean_template([crop, *jittered_crops(found.image, subject.landmarks)])
        else:
            template = self._template(crop)
        greyscale = is_greyscale(crop)
        h, w = found.image.shape[:2]
        inverse = 1.0 / decoded.scale
        return FaceAnalysis(
            role=role,
            box=Box(
                subject.x * inverse, subject.y * inverse, subject.width * inverse, subject.height * inverse
            ),
            landmarks=tuple((float(x) * inverse, float(y) * inverse) for x, y in subject.landmarks),
            quality=quality,
            rotation=found.rotation,
            faces_found=len(found.faces),
            image_width=round(w * inverse),
            image_height=round(h * inverse),
            template=template,
            crop=crop,
            greyscale=greyscale,
        )

    def _template(self, crop: npt.NDArray[np.uint8]) -> Template:
        if not self.options.flip_average:
            single: Template = self._recognizer.embed(crop[None])[0]
            return single
        features = self._recognizer.embed(np.stack([crop, crop[:, ::-1]]))
        mean = features.mean(axis=0)
        averaged: Template = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
        return averaged

    def _mean_template(self, crops: list[npt.NDArray[np.uint8]]) -> Template:
        mean = np.mean([self._template(c) for c in crops], axis=0)
        averaged: Template = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
        return averaged

    def similarity(self, a: Template, b: Template) -> float:
        return float(np.clip(np.dot(a, b), -1.0, 1.0))

    def matched_similarity(self, selfie: FaceAnalysis, reference: FaceAnalysis) -> float:
        """Cosine similarity, after bringing the richer face down to the poorer one's conditions.

        A 24 px grey document portrait and a sharp colour selfie differ in resolution and colour
        as much as in identity; comparing the selfie as it would look printed that small and grey
        removes that gap (measured in BENCHMARKS.md).
        """
        if not self.options.resolution_matching:
            return self.similarity(selfie.template, reference.template)
        a, b = selfie, reference
        if b.quality.interocular_px > a.quality.interocular_px:
            a, b = b, a  # a: the face with more pixels, adapted to b
        target = (
            b.quality.interocular_px if b.quality.interocular_px < a.quality.interocular_px * 0.7 else None
        )
        grey = b.greyscale and not a.greyscale
        if a.crop is None or (target is None and not grey):
            return self.similarity(selfie.template, reference.template)
        side = None if target is None else max(8, round(CROP_SIZE * target / TEMPLATE_INTEROCULAR))
        return self.similarity(self._adapted(a, side, grey), b.template)

    def _adapt(self, face: FaceAnalysis, side: int | None, grey: bool) -> Template:
        assert face.crop is not None
        return self._template(match_conditions(face.crop, side, grey=grey))

    def compare_analyses(self, selfie: FaceAnalysis, reference: FaceAnalysis) -> MatchResult:
        similarity = self.matched_similarity(selfie, reference)
        return MatchResult(
            score=self.calibration.score(similarity),
            similarity=similarity,
            threshold=self.threshold,
            match=similarity >= self.threshold,
            far_at_threshold=self.calibration.far(self.threshold),
            target_far=self.target_far,
            model_version=self.model_version,
            selfie=selfie,
            reference=reference,
        )

    def compare(self, selfie: bytes, reference: bytes) -> MatchResult:
        return self.compare_analyses(
            self.analyze(selfie, Role.SELFIE), self.analyze(reference, Role.REFERENCE)
        )
