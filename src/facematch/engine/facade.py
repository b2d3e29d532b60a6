"""``FaceEngine``: the engine's small public API (load, analyze, compare).

One loaded engine serves concurrent callers: OpenCV networks (the detector, the bundled recognizer)
are built once per thread, an onnxruntime session is shared (its runs are thread-safe), and the
calibration is immutable. The engine keeps nothing of the faces it sees: a FaceAnalysis lives as
long as its caller holds it. A caller that meets one face against many (``facematch eval``) may
pass an :class:`AdaptedTemplates` it owns to reuse condition-matched templates across pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from facematch.engine.align import align_face
from facematch.engine.calibrate import GENERAL_BAND, Calibration
from facematch.engine.detect import Detection, DetectionResult, find_faces
from facematch.engine.images import DecodedImage, decode_image
from facematch.engine.liveness.observe import observe_frame
from facematch.engine.models import (
    Detector,
    Recognizer,
    bundled_detector,
    bundled_recognizer,
    custom_recognizer,
)
from facematch.engine.quality import QualityGates, measure
from facematch.engine.templates import (
    AdaptedTemplates,
    adapted_side,
    is_greyscale,
    jittered_crops,
    match_conditions,
    mean_template,
)
from facematch.engine.types import (
    Box,
    FaceAnalysis,
    FaceCheck,
    FrameObservation,
    ImageRole,
    MatchResult,
    Quality,
    Template,
)
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
#: the recognizer's feature norm settles near-tie orientations only for faces at least this large
#: (detector pixels between the eyes)
NORM_ORIENTATION_MIN_INTEROCULAR = 20.0


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
    jitter_crops: int = 2
    """How many re-alignments a small face's template averages over (0-6): the two scalings keep
    what all six give (tune half, 24 px cards: TAR at FAR 1e-3 45.0% with 2, 45.4% with 6, 40.9%
    with none) at three embeddings instead of seven."""


def choose_subject(faces: tuple[Detection, ...], role: ImageRole) -> Detection:
    """The face the comparison is about.

    Selfie: the one dominant face; a second face of comparable size is ambiguous.
    Reference: the primary portrait, i.e. the largest face (ghost portraits and background
    faces are smaller). Ties break on score, then position, so the choice is deterministic.
    """
    if not faces:
        raise NoFaceError()
    ranked = sorted(faces, key=lambda f: (-f.width, -f.score, f.y, f.x))
    subject = ranked[0]
    if (
        role is ImageRole.SELFIE
        and len(ranked) > 1
        and ranked[1].width >= COMPARABLE_FACE_RATIO * subject.width
    ):
        raise MultipleFacesError(f"{len(ranked)} faces found; the selfie must show one person")
    return subject


@dataclass(frozen=True, slots=True)
class _Subject:
    """What :meth:`FaceEngine._subject` found: the detection (and the recognizer's feature when
    settling the orientation computed one), the subject face, its aligned crop and quality."""

    found: DetectionResult
    known: tuple[Detection, npt.NDArray[np.float32]] | None
    subject: Detection
    crop: npt.NDArray[np.uint8]
    quality: Quality
    check: FaceCheck


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
        # each quality band decides at its own threshold for the target FAR (or reports its own
        # FAR at the operator's fixed threshold)
        self._bands: dict[str, tuple[Calibration, float]] = {GENERAL_BAND: (calibration, self.threshold)}
        for band in calibration.bands:
            threshold = (
                options.threshold
                if options.threshold is not None
                else band.curve.threshold_for(options.target_far)
            )
            self._bands[band.name] = (band.curve, threshold)
        self._version = f"{detector.spec.version}+{recognizer.spec.version}"

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

    def analyze(self, image: bytes, role: ImageRole) -> FaceAnalysis:
        """Decode ``image`` and return its subject face with quality and template.

        Raises an ImageError subclass for unusable bytes, NoFaceError, MultipleFacesError (selfie),
        or FaceQualityError with the reasons when the face cannot be compared reliably.
        """
        return self.analyze_decoded(self._decode(image, role), role)

    def _decode(self, image: bytes, role: ImageRole) -> DecodedImage:
        try:
            return decode_image(
                image,
                max_bytes=self.options.max_image_bytes,
                max_pixels=self.options.max_image_pixels,
                max_full_decode_pixels=self.options.max_full_decode_pixels,
            )
        except ImageError as error:
            error.role = role.value
            raise

    def analyze_decoded(self, decoded: DecodedImage, role: ImageRole) -> FaceAnalysis:
        """:meth:`analyze` of an image decoded already (by :func:`~facematch.engine.images.decode_image`
        within the same caps), for callers that also need the pixels: one decode serves both."""
        seen = self._subject(decoded, role)
        found, subject, crop, quality = seen.found, seen.subject, seen.crop, seen.quality
        crops = [crop]
        if self.options.small_face_jitter and quality.interocular_px < SMALL_FACE_INTEROCULAR:
            crops += jittered_crops(found.image, subject.landmarks, self.options.jitter_crops)
        if self.options.flip_average:
            crops += [np.ascontiguousarray(c[:, ::-1]) for c in crops]
        known = seen.known
        reuse = known is not None and known[0] is subject
        rest = np.stack(crops[1:]) if len(crops) > 1 else None
        features = (
            [known[1][None]] if reuse and known is not None else [self._recognizer.features(crop[None])]
        )
        if rest is not None:
            features.append(self._recognizer.features(rest))
        template = mean_template(np.concatenate(features))
        check = seen.check
        inverse = 1.0 / decoded.scale
        return FaceAnalysis(
            role=role,
            box=check.box,
            landmarks=tuple((float(x) * inverse, float(y) * inverse) for x, y in subject.landmarks),
            quality=quality,
            rotation=found.rotation,
            faces_found=len(found.faces),
            image_width=check.image_width,
            image_height=check.image_height,
            template=template,
            crop=crop,
            greyscale=is_greyscale(crop),
        )

    def inspect(self, image: bytes | DecodedImage, role: ImageRole) -> FaceCheck:
        """The subject face of ``image`` (its bytes, decoded here, or its decoded pixels) found and
        quality-checked as :meth:`analyze` does, with the same errors, but no template: detection
        and the quality measures only (live guidance judges many frames and compares none)."""
        decoded = image if isinstance(image, DecodedImage) else self._decode(image, role)
        return self._subject(decoded, role).check

    def _subject(self, decoded: DecodedImage, role: ImageRole) -> _Subject:
        """The subject face of ``decoded``: found, chosen, aligned and quality-checked."""
        try:
            found, known = self._settle_orientation(find_faces(self._detector, decoded.rgb))
            subject = choose_subject(found.faces, role)
            crop = align_face(found.image, subject.landmarks)
            quality = measure(subject, crop, decoded.scale, self.gates, judge_blur=role is ImageRole.SELFIE)
            if not quality.ok:
                raise FaceQualityError(reasons=quality.reasons)
        except (ImageError, FaceError) as error:
            error.role = role.value
            raise
        h, w = found.image.shape[:2]
        inverse = 1.0 / decoded.scale
        check = FaceCheck(
            role=role,
            box=Box(
                subject.x * inverse, subject.y * inverse, subject.width * inverse, subject.height * inverse
            ),
            quality=quality,
            rotation=found.rotation,
            faces_found=len(found.faces),
            image_width=round(w * inverse),
            image_height=round(h * inverse),
        )
        return _Subject(found, known, subject, crop, quality, check)

    def observe(self, decoded: DecodedImage) -> FrameObservation:
        """A liveness frame's faces and its subject's pose and template, with no quality gate."""
        ratio = COMPARABLE_FACE_RATIO
        return observe_frame(self._detector, self._recognizer, decoded, comparable_ratio=ratio)

    def threshold_at(self, far: float) -> float:
        """The recognizer's similarity at false-accept rate ``far`` (its general calibration)."""
        return self.calibration.threshold_for(far)

    def _settle_orientation(
        self, found: DetectionResult
    ) -> tuple[DetectionResult, tuple[Detection, npt.NDArray[np.float32]] | None]:
        """When the detector could hardly tell two orientations apart, the one whose aligned face
        gives the recognizer's larger feature norm (measured on the tune half of the development
        set: upright reads 10.5–13, upside-down reads 5.9–9.1 at the 10th/90th percentiles).

        Returns the chosen result and, when the recognizer ran, its subject with its raw feature,
        so that the template is not computed twice.
        """
        if found.alternative is None:
            return found, None
        options = [found, found.alternative]
        subjects = [max(o.faces, key=lambda f: (f.width, f.score)) for o in options]
        if min(s.interocular for s in subjects) < NORM_ORIENTATION_MIN_INTEROCULAR:
            # on a face this small the norm no longer tells upright from upside down (tune half:
            # it overturned the detector wrongly on 24-30 px cards, never rightly)
            return DetectionResult(found.faces, found.rotation, found.image), None
        crops = np.stack([align_face(o.image, s.landmarks) for o, s in zip(options, subjects, strict=True)])
        features = self._recognizer.features(crops)
        norms = np.linalg.norm(features, axis=1)
        pick = int(np.argmax(norms))
        chosen = options[pick]
        return DetectionResult(chosen.faces, chosen.rotation, chosen.image), (subjects[pick], features[pick])

    def _template(self, crop: npt.NDArray[np.uint8]) -> Template:
        crops = np.stack([crop, crop[:, ::-1]]) if self.options.flip_average else crop[None]
        return mean_template(self._recognizer.features(np.ascontiguousarray(crops)))

    def similarity(self, a: Template, b: Template) -> float:
        return float(np.clip(np.dot(a, b), -1.0, 1.0))

    def matched_similarity(
        self, selfie: FaceAnalysis, reference: FaceAnalysis, adapted: AdaptedTemplates | None = None
    ) -> float:
        """Cosine similarity, after bringing the richer face down to the poorer one's conditions.

        A 24 px grey document portrait and a sharp colour selfie differ in resolution and colour
        as much as in identity; comparing the selfie as it would look printed that small and grey
        removes that gap (measured in BENCHMARKS.md). ``adapted``: the caller's store of
        condition-matched templates, reused across pairs (none: computed for this pair only).
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
        side = None if target is None else adapted_side(target)
        key = (a, side, grey)
        template = adapted.get(key) if adapted is not None else None
        if template is None:
            template = self._template(match_conditions(a.crop, side, grey=grey))
            if adapted is not None:
                adapted.put(key, template)
        return self.similarity(template, b.template)

    def band_for(self, selfie: FaceAnalysis, reference: FaceAnalysis) -> tuple[str, Calibration, float]:
        """The calibration band of a pair (by its poorer face), its curve and its threshold."""
        poorer = min(selfie.quality.interocular_px, reference.quality.interocular_px)
        name, _ = self.calibration.curve_for(poorer, selfie.greyscale or reference.greyscale)
        curve, threshold = self._bands[name]
        return name, curve, threshold

    def compare_analyses(
        self, selfie: FaceAnalysis, reference: FaceAnalysis, adapted: AdaptedTemplates | None = None
    ) -> MatchResult:
        similarity = self.matched_similarity(selfie, reference, adapted)
        band, curve, threshold = self.band_for(selfie, reference)
        return MatchResult(
            score=curve.score(similarity),
            similarity=similarity,
            threshold=threshold,
            match=similarity >= threshold,
            far_at_threshold=curve.far(threshold),
            target_far=self.target_far,
            model_version=self.model_version,
            selfie=selfie,
            reference=reference,
            band=band,
        )

    def compare(self, selfie: bytes, reference: bytes) -> MatchResult:
        return self.compare_analyses(
            self.analyze(selfie, ImageRole.SELFIE), self.analyze(reference, ImageRole.REFERENCE)
        )
