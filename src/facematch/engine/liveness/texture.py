"""Is a face's texture one flat surface seen from two angles? A check that does not trust the
landmark model.

The landmark model has a prior: shown a photo held at a steep angle, it can place the landmarks as
it would on a turned head, nose parallax included. The image itself has no such prior. Between a
frontal frame and a turned one, a print or a screen moves every point of the face by one
homography; a real head does not (its nose, cheeks and jaw stand at other depths than its eyes).
So: match local features (SIFT) between the two face patches and count how many of the matches a
single homography carries within ``tolerance`` of the patch side (RANSAC). A high share means a
flat face. Too few matches (different lighting, a blurred frame) say nothing.
"""

from __future__ import annotations

import threading
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from facematch.engine.types import Box

#: the side of the square grey patch an observation keeps of its face (box × PATCH_MARGIN)
PATCH_SIDE = 160
PATCH_MARGIN = 1.2
#: fewer good matches than this tell nothing about the surface
MIN_MATCHES = 12
#: Lowe's ratio test
RATIO = 0.8

_local = threading.local()


def face_patch(rgb: npt.NDArray[np.uint8], box: Box) -> npt.NDArray[np.uint8]:
    """The face of ``box`` (in ``rgb``'s pixels), grey, on a PATCH_SIDE square."""
    side = max(box.width, box.height) * PATCH_MARGIN
    scale = PATCH_SIDE / max(side, 1.0)
    cx, cy = box.x + box.width / 2, box.y + box.height / 2
    matrix = np.array([[scale, 0.0, PATCH_SIDE / 2 - cx * scale], [0.0, scale, PATCH_SIDE / 2 - cy * scale]])
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    patch = cv2.warpAffine(grey, matrix, (PATCH_SIDE, PATCH_SIDE), flags=cv2.INTER_AREA)
    return np.ascontiguousarray(patch, dtype=np.uint8)


def _sift() -> Any:
    """One SIFT extractor per thread (an OpenCV feature object holds per-call state)."""
    found = getattr(_local, "sift", None)
    if found is None:
        found = cv2.SIFT.create()
        _local.sift = found
    return found


def features(patch: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None:
    """Keypoint positions and SIFT descriptors of a face patch (None: too few)."""
    keypoints, descriptors = _sift().detectAndCompute(patch, None)
    if descriptors is None or len(keypoints) < MIN_MATCHES:
        return None
    points = np.array([k.pt for k in keypoints], dtype=np.float32)
    return points, np.asarray(descriptors, dtype=np.float32)


def flat_share(
    a: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None,
    b: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None,
    tolerance: float = 0.02,
) -> float:
    """The share of the good matches between two patches' features that one homography carries
    within ``tolerance`` of the patch side (0 when there are too few matches to tell)."""
    if a is None or b is None:
        return 0.0
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(a[1], b[1], k=2)
    good = [m[0] for m in pairs if len(m) == 2 and m[0].distance < RATIO * m[1].distance]
    if len(good) < MIN_MATCHES:
        return 0.0
    src = a[0][[m.queryIdx for m in good]]
    dst = b[0][[m.trainIdx for m in good]]
    _, mask = cv2.findHomography(src, dst, cv2.RANSAC, tolerance * PATCH_SIDE)
    return 0.0 if mask is None else float(np.mean(mask))
