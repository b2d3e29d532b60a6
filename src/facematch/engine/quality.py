"""Face quality: measurements and a verdict with machine-readable reasons.

The gates are deliberately lenient: they reject what cannot be compared reliably (a face too
small to hold identity, a blurred or badly exposed face, a profile), and never silently turn
quality into a low score. Sharpness is only judged when the face has enough pixels for blur to
be the photographer's fault rather than the document's resolution, and only when the caller asks
(the engine judges it on selfies, which the user can take again; a reference's softness is the
document's, and comparing it is better than refusing it).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from facematch.engine.align import CROP_SIZE, TEMPLATE_INTEROCULAR
from facematch.engine.detect import Detection
from facematch.engine.types import Quality

FACE_TOO_SMALL = "FACE_TOO_SMALL"
FACE_BLURRED = "FACE_BLURRED"
FACE_TOO_DARK = "FACE_TOO_DARK"
FACE_TOO_BRIGHT = "FACE_TOO_BRIGHT"
FACE_LOW_CONTRAST = "FACE_LOW_CONTRAST"
FACE_NOT_FRONTAL = "FACE_NOT_FRONTAL"
FACE_LOW_CONFIDENCE = "FACE_LOW_CONFIDENCE"


@dataclass(frozen=True, slots=True)
class QualityGates:
    """Limits below/above which a face is refused."""

    min_interocular_px: float = 7.0
    blur_check_min_interocular_px: float = 24.0
    min_sharpness: float = 12.0
    min_brightness: float = 0.12
    max_brightness: float = 0.94
    min_contrast: float = 0.035
    max_yaw: float = 0.75
    min_detector_score: float = 0.6


def measure(
    face: Detection,
    crop_rgb: npt.NDArray[np.uint8],
    native_scale: float,
    gates: QualityGates,
    *,
    judge_blur: bool = True,
) -> Quality:
    """Quality of ``face`` from its landmarks and its aligned crop.

    ``native_scale``: native pixels per upright-image pixel (< 1 when the image was decoded reduced).
    ``judge_blur``: whether a blurred face is refused (sharpness is measured either way).
    """
    marks = face.landmarks
    interocular = face.interocular / max(native_scale, 1e-9)
    grey = cv2.cvtColor(crop_rgb, cv2.COLOR_RGB2GRAY)
    centre = grey[24:104, 20:92].astype(np.float64)
    brightness = float(centre.mean() / 255.0)
    contrast = float(centre.std() / 255.0)
    # judge blur at the face's native resolution, not at the upscaled crop's
    native_side = max(16, min(CROP_SIZE, round(interocular * CROP_SIZE / TEMPLATE_INTEROCULAR)))
    probe = (
        cv2.resize(grey, (native_side, native_side), interpolation=cv2.INTER_AREA)
        if native_side < CROP_SIZE
        else grey
    )
    sharpness = float(cv2.Laplacian(probe, cv2.CV_64F).var())
    eye_mid = marks[:2].mean(axis=0)
    eye_vec = marks[1] - marks[0]
    eye_dist = float(np.hypot(*eye_vec)) or 1.0
    # nose offset from the eye midline, in eye distances, measured along the eye line
    yaw = float(np.dot(marks[2] - eye_mid, eye_vec) / (eye_dist**2))
    roll = float(np.degrees(np.arctan2(eye_vec[1], eye_vec[0])))
    reasons: list[str] = []
    if interocular < gates.min_interocular_px:
        reasons.append(FACE_TOO_SMALL)
    if brightness < gates.min_brightness:
        reasons.append(FACE_TOO_DARK)
    elif brightness > gates.max_brightness:
        reasons.append(FACE_TOO_BRIGHT)
    elif contrast < gates.min_contrast:
        reasons.append(FACE_LOW_CONTRAST)
    elif (
        judge_blur and interocular >= gates.blur_check_min_interocular_px and sharpness < gates.min_sharpness
    ):
        # judged only on a well-exposed face: darkness and flat light also flatten the Laplacian
        reasons.append(FACE_BLURRED)
    if abs(yaw) > gates.max_yaw:
        reasons.append(FACE_NOT_FRONTAL)
    if face.score < gates.min_detector_score:
        reasons.append(FACE_LOW_CONFIDENCE)
    return Quality(
        interocular_px=round(interocular, 2),
        sharpness=round(sharpness, 2),
        brightness=round(brightness, 4),
        contrast=round(contrast, 4),
        yaw=round(yaw, 4),
        roll=round(roll, 2),
        detector_score=round(face.score, 4),
        reasons=tuple(reasons),
    )
