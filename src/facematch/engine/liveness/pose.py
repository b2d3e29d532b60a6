"""Head pose and three-dimensional evidence from the five landmarks, in pure numpy/OpenCV.

The landmarks are YuNet's, in image order: the subject's right eye (image left), left eye, nose
tip, right and left mouth corners. Everything here is a ratio of landmark distances, so it does
not depend on the frame's size or on where the face is in it.

* **yaw**: the nose tip's offset from the eye midpoint along the eye line, in eye distances.
  Positive when the subject turns to their own left (the nose moves towards the image's right in
  an unmirrored camera frame). A turn of about 20° gives ~0.2.
* **size**: the distance from the eye midpoint to the mouth midpoint, as a fraction of the frame
  width; a turn hardly changes it (it is vertical), coming closer increases it.
* **parallax**: how far the nose tip lies off the plane that the eyes and mouth corners define.
  A homography fitted on those four points maps a frontal reference frame onto a later frame
  exactly whenever the face is one flat surface (a print, a screen) however it is moved, tilted
  or turned; a real head's nose tip stands about half an eye distance in front of that plane and
  leaves a residual of roughly 0.4·sin(turn) eye distances.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

Landmarks = npt.NDArray[np.float64]
#: the four landmarks that span the face's plane: both eyes and both mouth corners
PLANE_POINTS = (0, 1, 3, 4)
NOSE = 2


def as_landmarks(points: tuple[tuple[float, float], ...]) -> Landmarks:
    """Five (x, y) pairs as a 5×2 float array."""
    marks = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if marks.shape != (5, 2):
        raise ValueError("five landmarks are needed")
    return marks


def eye_distance(marks: Landmarks) -> float:
    return float(np.hypot(*(marks[1] - marks[0])))


def yaw(marks: Landmarks) -> float:
    """The nose tip's offset from the eye midpoint along the eye line, in eye distances."""
    eye_vec = marks[1] - marks[0]
    span = float(eye_vec @ eye_vec) or 1e-9
    return float((marks[NOSE] - marks[:2].mean(axis=0)) @ eye_vec / span)


def face_size(marks: Landmarks, frame_width: float) -> float:
    """Eye midpoint to mouth midpoint, as a fraction of the frame width."""
    span = float(np.hypot(*(marks[3:5].mean(axis=0) - marks[:2].mean(axis=0))))
    return span / max(frame_width, 1.0)


def parallax(reference: Landmarks, frame: Landmarks) -> float:
    """The nose tip's offset from where the plane of the other four landmarks puts it, signed
    along ``frame``'s eye line (positive: towards the subject's left) and in ``frame``'s face
    sizes (eye midpoint to mouth midpoint, which a turn does not shorten).

    The plane is the homography that maps ``reference``'s eyes and mouth corners onto
    ``frame``'s: for a flat face it also carries the nose, whatever the motion; for a real head
    turned between the two frames it cannot. Returns 0 when the four points are degenerate.
    """
    src = reference[list(PLANE_POINTS)].astype(np.float32)
    dst = frame[list(PLANE_POINTS)].astype(np.float32)
    try:
        homography = cv2.getPerspectiveTransform(src, dst)
    except cv2.error:
        return 0.0
    if not np.all(np.isfinite(homography)):
        return 0.0
    nose = np.array([[reference[NOSE]]], dtype=np.float64)
    predicted = cv2.perspectiveTransform(nose, homography)[0, 0]
    if not np.all(np.isfinite(predicted)):
        return 0.0
    eye_vec = frame[1] - frame[0]
    unit = eye_vec / (float(np.hypot(*eye_vec)) or 1e-9)
    span = float(np.hypot(*(frame[3:5].mean(axis=0) - frame[:2].mean(axis=0)))) or 1e-9
    return float((frame[NOSE] - predicted) @ unit / span)
