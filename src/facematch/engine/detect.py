"""Finding the faces a person would see: one cheap pass, then only the passes the evidence calls for.

YuNet finds faces of roughly 10–300 px at its input size, misses faces that touch the image
border, and sees faces lying on their side only weakly, with landmarks that look upright. So:

1. **Coarse pass**: the image, scaled so its padded canvas is 320 px on its longer side (tight
   passport crops have no margin: the padding gives them one). An upright face found there with
   high confidence and seen large enough settles the image: one detector pass.
2. **Face-centred check** otherwise: a small patch around the largest candidate, scaled so the
   face is about 96 px across, is searched in the four orientations (four passes of ~2 ms). The
   face stands upright where the detector is most confident; the patch's detection also gives
   landmarks seen at a good size (a 24 px ID-card face is read 4× enlarged there, instead of
   upscaling the whole image).
3. **Fallback**: when no orientation of the coarse canvas shows a face, the round-1 search
   (canvas 640 px, then an upscaled small-face pass, upright then turned) runs on the whole image.

Every coordinate returned is in the pixels of the upright image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

#: long sides of the padded canvas, coarse to fine: most selfies and portraits are settled by the
#: cheap first pass, small faces by the later ones
PASS_SIDES = (320, 640)
#: a face seen smaller than this (detector pixels) sends the search on to the next scale
MIN_TRUSTED_FACE_PX = 40.0
#: how much larger a face must appear in the small-face pass (relative to native pixels)
SMALL_FACE_UPSCALE = 2.0
MAX_SMALL_FACE_SIDE = 2400
#: padding around the image, as a fraction of its longer side
PAD_FRACTION = 0.2
#: a detection this confident ends the scale search early
CONFIDENT = 0.75
#: an upright coarse detection this confident (and seen at least MIN_TRUSTED_FACE_PX) is taken as is
UPRIGHT_CONFIDENT = 0.9
#: how much more confident a turned orientation must be to beat the upright one
ROTATION_MARGIN = 0.03
#: the coarse pass: long side of the padded canvas
COARSE_SIDE = 320
#: the face-centred patch: the face's size in it, and the patch's side in face sizes
PATCH_FACE_PX = 96.0
PATCH_CONTEXT = 2.0
#: a patch never enlarges the face more than this (beyond it the pixels hold no more detail)
MAX_PATCH_UPSCALE = 4.0
#: two detections are one face when their boxes overlap this much (intersection over union)
SAME_FACE_IOU = 0.3
#: orientations whose patch confidences differ by less than this are left for the caller to settle
ORIENTATION_AMBIGUITY = 0.06


class FaceDetector(Protocol):
    def detect(self, bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]: ...


@dataclass(frozen=True, slots=True)
class Detection:
    """One face in upright-image pixels."""

    x: float
    y: float
    width: float
    height: float
    landmarks: npt.NDArray[np.float64]
    score: float

    @property
    def interocular(self) -> float:
        return float(np.hypot(*(self.landmarks[1] - self.landmarks[0])))


@dataclass(frozen=True, slots=True)
class DetectionResult:
    """All faces found in the best orientation, and that orientation."""

    faces: tuple[Detection, ...]
    rotation: int
    """Clockwise degrees the input was turned to make the faces upright (0, 90, 180, 270)."""
    image: npt.NDArray[np.uint8]
    """The upright image (RGB) the coordinates refer to."""
    alternative: DetectionResult | None = None
    """The runner-up orientation, when the detector could hardly tell it from this one (then the
    caller decides with other evidence: the recognizer's feature norm)."""


def rotate(image: npt.NDArray[np.uint8], degrees: int) -> npt.NDArray[np.uint8]:
    """Turn ``image`` clockwise by a multiple of 90 degrees."""
    codes = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    if degrees % 360 == 0:
        return image
    return np.ascontiguousarray(cv2.rotate(image, codes[degrees % 360]))


def _detect_at(detector: FaceDetector, rgb: npt.NDArray[np.uint8], scale: float) -> list[Detection]:
    """Scale by ``scale``, pad, and detect; map results back to ``rgb`` pixels."""
    h, w = rgb.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    scaled = cv2.resize(rgb, size, interpolation=interpolation) if scale != 1 else rgb
    small = scaled if scale <= 1 else rgb
    fill = _mean_colour(small)
    pad = round(PAD_FRACTION * max(scaled.shape[:2]))
    canvas = cv2.copyMakeBorder(scaled, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=fill)
    rows = detector.detect(np.ascontiguousarray(canvas[:, :, ::-1]))
    found = []
    for row in rows:
        x, y, bw, bh = (float(v) for v in row[:4])
        marks = (row[4:14].astype(np.float64).reshape(5, 2) - pad) / scale
        found.append(
            Detection((x - pad) / scale, (y - pad) / scale, bw / scale, bh / scale, marks, float(row[14]))
        )
    return found


def _search(
    detector: FaceDetector, rgb: npt.NDArray[np.uint8], *, small_faces: bool = True
) -> list[Detection]:
    """Detect in one orientation: coarse to fine, stopping at the first confident result.

    ``small_faces``: also try the upscaled pass for faces too small for the base passes.
    """
    long_side = max(rgb.shape[:2]) * (1 + 2 * PAD_FRACTION)
    faces: list[Detection] = []
    scales = [side / long_side for side in PASS_SIDES]
    small_scale = min(SMALL_FACE_UPSCALE, MAX_SMALL_FACE_SIDE / long_side)
    if small_faces and small_scale > scales[-1] * 1.5:
        scales.append(small_scale)
    for scale in scales:
        found = _detect_at(detector, rgb, scale)
        if found and (not faces or max(f.score for f in found) > max(f.score for f in faces)):
            faces = found
        if faces and max(f.score for f in faces) >= CONFIDENT and _big_enough(faces, scale):
            break
    return faces


def _big_enough(faces: list[Detection], scale: float) -> bool:
    """Whether the best face was seen large enough at ``scale`` to trust its landmarks."""
    best = max(faces, key=lambda f: f.score)
    return best.width * scale >= MIN_TRUSTED_FACE_PX


def _unrotate(faces: list[Detection], degrees: int, width: int, height: int) -> list[Detection]:
    """Detections made in ``rotate(image, degrees)`` mapped back to ``image`` (``width``×``height``)."""
    if degrees % 360 == 0:
        return faces
    out = []
    for f in faces:
        corners = np.array([[f.x, f.y], [f.x + f.width, f.y + f.height]])
        marks = np.vstack([f.landmarks, corners])
        x, y = marks[:, 0], marks[:, 1]
        if degrees == 90:  # clockwise turn took (x, y) to (height - y, x)
            back = np.stack([y, height - x], axis=1)
        elif degrees == 270:
            back = np.stack([width - y, x], axis=1)
        else:
            back = np.stack([width - x, height - y], axis=1)
        (x0, y0), (x1, y1) = back[5].tolist(), back[6].tolist()
        out.append(Detection(min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0), back[:5].copy(), f.score))
    return out


def _rotate_faces(faces: list[Detection], degrees: int, width: int, height: int) -> list[Detection]:
    """Detections in ``image`` (``width``×``height``) mapped into ``rotate(image, degrees)``."""
    turned_w, turned_h = (height, width) if degrees in (90, 270) else (width, height)
    return _unrotate(faces, (360 - degrees) % 360, turned_w, turned_h)


def _iou(a: Detection, b: Detection) -> float:
    ix = max(0.0, min(a.x + a.width, b.x + b.width) - max(a.x, b.x))
    iy = max(0.0, min(a.y + a.height, b.y + b.height) - max(a.y, b.y))
    inter = ix * iy
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True, slots=True)
class _Coarse:
    """The image reduced once for every coarse pass over it."""

    small: npt.NDArray[np.uint8]
    scale: float
    fill: list[int]
    width: int
    height: int


def _coarse_canvas(rgb: npt.NDArray[np.uint8]) -> _Coarse:
    h, w = rgb.shape[:2]
    scale = COARSE_SIDE / (max(h, w) * (1 + 2 * PAD_FRACTION))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = np.asarray(
        cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR), np.uint8
    )
    return _Coarse(small, scale, _mean_colour(small if scale <= 1 else rgb), w, h)


def _mean_colour(image: npt.NDArray[Any]) -> list[int]:
    return [int(v) for v in cv2.mean(image)[:3]]


def _coarse(detector: FaceDetector, coarse: _Coarse, degrees: int) -> list[Detection]:
    """The coarse pass over the image turned by ``degrees``, in the image's pixels."""
    found = _detect_canvas(detector, rotate(coarse.small, degrees), coarse.fill)
    scale = coarse.scale
    scaled_back = [
        Detection(f.x / scale, f.y / scale, f.width / scale, f.height / scale, f.landmarks / scale, f.score)
        for f in found
    ]
    return _unrotate(scaled_back, degrees, coarse.width, coarse.height)


def _detect_canvas(detector: FaceDetector, image: npt.NDArray[np.uint8], fill: list[int]) -> list[Detection]:
    """Pad ``image`` with ``fill`` and detect; coordinates in ``image``'s pixels."""
    pad = round(PAD_FRACTION * max(image.shape[:2]))
    canvas = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=fill)
    rows = detector.detect(np.ascontiguousarray(canvas[:, :, ::-1]))
    return [
        Detection(
            float(r[0]) - pad,
            float(r[1]) - pad,
            float(r[2]),
            float(r[3]),
            r[4:14].astype(np.float64).reshape(5, 2) - pad,
            float(r[14]),
        )
        for r in rows
    ]


def _patch_reads(
    detector: FaceDetector, rgb: npt.NDArray[np.uint8], candidate: Detection
) -> dict[int, Detection]:
    """Search a face-centred patch of ``rgb`` in the four orientations.

    Returns, for each orientation (clockwise degrees that turn ``rgb`` upright) where the patch
    shows a face, that face (the detection nearest the patch centre), in ``rgb``'s pixels.
    """
    h, w = rgb.shape[:2]
    face = max(candidate.width, candidate.height, 1.0)
    scale = min(PATCH_FACE_PX / face, MAX_PATCH_UPSCALE)
    side = PATCH_CONTEXT * face
    cx, cy = candidate.x + candidate.width / 2, candidate.y + candidate.height / 2
    x0, y0 = max(0, round(cx - side / 2)), max(0, round(cy - side / 2))
    x1, y1 = min(w, round(cx + side / 2)), min(h, round(cy + side / 2))
    window = rgb[y0:y1, x0:x1]
    if window.size == 0:
        return {}
    size = (max(8, round(window.shape[1] * scale)), max(8, round(window.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    patch = np.asarray(cv2.resize(window, size, interpolation=interpolation), np.uint8)
    fill = _mean_colour(window)
    ph, pw = patch.shape[:2]
    sx, sy = window.shape[1] / pw, window.shape[0] / ph
    reads: dict[int, Detection] = {}
    for degrees in (0, 90, 270, 180):
        found = _unrotate(_detect_canvas(detector, rotate(patch, degrees), fill), degrees, pw, ph)
        if not found:
            continue
        f = min(found, key=lambda f: float(np.hypot(f.x + f.width / 2 - pw / 2, f.y + f.height / 2 - ph / 2)))
        reads[degrees] = Detection(
            f.x * sx + x0,
            f.y * sy + y0,
            f.width * sx,
            f.height * sy,
            f.landmarks * np.array([sx, sy]) + np.array([x0, y0]),
            f.score,
        )
    return reads


def _ranked(reads: dict[int, Detection]) -> list[int]:
    """Orientations, most confident first; upright goes first unless beaten by ROTATION_MARGIN."""
    order = sorted(reads, key=lambda d: -reads[d].score)
    if order[0] != 0 and 0 in reads and reads[order[0]].score < reads[0].score + ROTATION_MARGIN:
        order.remove(0)
        order.insert(0, 0)
    return order


def find_faces(detector: FaceDetector, rgb: npt.NDArray[np.uint8]) -> DetectionResult:
    """Every face in ``rgb``, in the orientation where the faces stand upright.

    YuNet also finds faces lying on their side or upside down, with landmarks that look upright,
    but with clearly lower confidence (measured: ≤ 0.87 turned, 0.92-0.95 upright for clean
    photos). So a confident upright coarse result is taken at once; otherwise the largest
    candidate's face-centred patch decides the orientation (and gives the subject's landmarks),
    and the other faces come from the coarse pass in that orientation. When two orientations are
    within ORIENTATION_AMBIGUITY of each other, the runner-up is returned as ``alternative``.
    """
    h, w = rgb.shape[:2]
    coarse = _coarse_canvas(rgb)
    faces = _coarse(detector, coarse, 0)
    if faces:
        best = max(faces, key=lambda f: f.score)
        if best.score >= UPRIGHT_CONFIDENT and best.width * coarse.scale >= MIN_TRUSTED_FACE_PX:
            return DetectionResult(tuple(faces), 0, rgb)
    seen_in = 0
    if not faces:
        for degrees in (90, 270, 180):
            faces = _coarse(detector, coarse, degrees)
            if faces:
                seen_in = degrees
                break
    if not faces:
        return _full_search(detector, rgb)
    candidate = max(faces, key=lambda f: (f.width, f.score))
    reads = _patch_reads(detector, rgb, candidate)
    if not reads:
        return _full_search(detector, rgb)

    def result(degrees: int) -> DetectionResult:
        subject = reads[degrees]
        # the other faces, from a coarse pass in the orientation that makes them upright
        others = faces if degrees == seen_in else _coarse(detector, coarse, degrees)
        merged = [subject, *(f for f in others if _iou(f, subject) < SAME_FACE_IOU)]
        return DetectionResult(tuple(_rotate_faces(merged, degrees, w, h)), degrees, rotate(rgb, degrees))

    order = _ranked(reads)
    chosen = result(order[0])
    if len(order) > 1 and reads[order[1]].score > reads[order[0]].score - ORIENTATION_AMBIGUITY:
        return DetectionResult(chosen.faces, chosen.rotation, chosen.image, alternative=result(order[1]))
    return chosen


def _full_search(detector: FaceDetector, rgb: npt.NDArray[np.uint8]) -> DetectionResult:
    """The exhaustive search, for images whose coarse canvas shows no face in any orientation:
    every scale upright, then (only if upright found nothing confident) the other orientations."""
    faces = _search(detector, rgb)
    best_score = max((f.score for f in faces), default=0.0)
    if best_score >= UPRIGHT_CONFIDENT:
        return DetectionResult(tuple(faces), 0, rgb)
    best: tuple[float, int, list[Detection], npt.NDArray[np.uint8]] = (best_score, 0, faces, rgb)
    # the costly upscaled pass is only worth repeating turned when upright found no face at all
    small_faces = not faces
    for degrees in (90, 270, 180):
        turned = rotate(rgb, degrees)
        found = _search(detector, turned, small_faces=small_faces)
        score = max((f.score for f in found), default=0.0)
        if score > best[0] + ROTATION_MARGIN:
            best = (score, degrees, found, turned)
            if score >= UPRIGHT_CONFIDENT:
                break
    _, degrees, found, image = best
    return DetectionResult(tuple(found), degrees, image)
