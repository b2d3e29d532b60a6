"""The engine's public data types: frozen dataclasses in, frozen dataclasses out."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import numpy as np
import numpy.typing as npt

from facematch.engine.images import DecodedImage

Template = npt.NDArray[np.float32]


class ImageRole(StrEnum):
    """What an image is for: it decides how the subject face is chosen."""

    SELFIE = "selfie"
    REFERENCE = "reference"


@dataclass(frozen=True, slots=True)
class Box:
    """A face box in the pixels of the upright (EXIF-applied, rotation-corrected) image."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Quality:
    """Measured quality of the subject face, with machine-readable reasons when it is not usable."""

    interocular_px: float
    sharpness: float
    brightness: float
    contrast: float
    yaw: float
    roll: float
    detector_score: float
    reasons: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.reasons


@dataclass(frozen=True, slots=True)
class FaceCheck:
    """The subject face of one image as found and quality-checked, without a template: what live
    guidance needs (:meth:`Engine.inspect`), at the cost of detection and the quality measures."""

    role: ImageRole
    box: Box
    quality: Quality
    rotation: int
    faces_found: int
    image_width: int
    image_height: int


@dataclass(frozen=True, slots=True)
class FaceAnalysis:
    """The subject face of one image, ready to compare."""

    role: ImageRole
    box: Box
    landmarks: tuple[tuple[float, float], ...]
    quality: Quality
    rotation: int
    faces_found: int
    image_width: int
    image_height: int
    template: Template = field(repr=False, compare=False)
    crop: npt.NDArray[np.uint8] | None = field(default=None, repr=False, compare=False)
    """The aligned 112x112 RGB crop the template was made from (kept in memory only)."""
    greyscale: bool = False
    """Whether the face carries no colour (a grey or tinted document print)."""


@dataclass(frozen=True, slots=True)
class FrameObservation:
    """What one frame of a liveness challenge shows, with no quality gate applied (a turned face
    is observed, not refused): how many faces, and the subject's (largest face's) geometry.

    Coordinates are in the pixels of the upright frame at its original size. ``yaw`` and ``size``
    are estimated from the landmarks (:mod:`facematch.engine.liveness.pose`).
    """

    face_count: int
    """Faces at least half as wide as the largest, the largest included (0: no face)."""
    frame_width: int
    frame_height: int
    box: Box | None = None
    landmarks: tuple[tuple[float, float], ...] = ()
    yaw: float = 0.0
    """The nose tip's offset from the eye midpoint along the eye line, in eye distances
    (positive: the subject turned to their own left, in an unmirrored frame)."""
    size: float = 0.0
    """Eye midpoint to mouth midpoint, as a fraction of the frame width (grows as the face comes
    closer; a turn hardly changes it)."""
    detector_score: float = 0.0
    template: Template | None = field(default=None, repr=False, compare=False)
    face_patch: npt.NDArray[np.uint8] | None = field(default=None, repr=False, compare=False)
    """The face, grey, on a small square (:mod:`facematch.engine.liveness.texture`); in memory only."""


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The verdict of one selfie-against-reference comparison."""

    score: float
    similarity: float
    threshold: float
    match: bool
    far_at_threshold: float
    target_far: float
    model_version: str
    selfie: FaceAnalysis
    reference: FaceAnalysis
    band: str = "general"
    """The calibration band the pair fell in (by its poorer face); threshold, score and
    ``far_at_threshold`` are that band's."""


class Engine(Protocol):
    """What the rest of facematch needs from a face engine (the real one or the fake)."""

    @property
    def model_version(self) -> str: ...

    def analyze(self, image: bytes, role: ImageRole) -> FaceAnalysis:
        """Decode ``image`` and return its subject face; raises ImageError / FaceError subclasses."""
        ...

    def analyze_decoded(self, decoded: DecodedImage, role: ImageRole) -> FaceAnalysis:
        """:meth:`analyze` of an image decoded already; raises FaceError subclasses."""
        ...

    def inspect(self, image: bytes | DecodedImage, role: ImageRole) -> FaceCheck:
        """The subject face found and quality-checked like :meth:`analyze` (the same errors), with
        no template computed: for a frame that is judged and never compared."""
        ...

    def compare_analyses(self, selfie: FaceAnalysis, reference: FaceAnalysis) -> MatchResult:
        """Compare two analysed faces."""
        ...

    def compare(self, selfie: bytes, reference: bytes) -> MatchResult:
        """Analyse both images and compare them."""
        ...

    def observe(self, decoded: DecodedImage) -> FrameObservation:
        """The faces of one liveness frame and its subject's geometry and template, without
        quality gates; never raises for a frame without a face (``face_count`` 0)."""
        ...

    def threshold_at(self, far: float) -> float:
        """The cosine similarity of this engine's templates whose false-accept rate is ``far``
        (the liveness verdict's SAME_PERSON threshold)."""
        ...
