"""Five-point similarity alignment onto the 112x112 template the recognizers were trained on."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

CROP_SIZE = 112
#: ArcFace/SFace reference positions of (right eye, left eye, nose tip, right mouth, left mouth)
#: as seen in the image (the subject's right eye on the image's left).
TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)
#: distance between the eyes in the template, in crop pixels
TEMPLATE_INTEROCULAR = float(np.hypot(*(TEMPLATE[1] - TEMPLATE[0])))


def similarity_transform(
    src: npt.NDArray[np.float64], dst: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Least-squares rotation + uniform scale + translation mapping ``src`` onto ``dst`` (Umeyama)."""
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    rotation = u @ np.diag(d) @ vt
    variance = (src_c**2).sum() / len(src)
    scale = float((s * d).sum() / variance) if variance > 0 else 1.0
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def align_face(image: npt.NDArray[np.uint8], landmarks: npt.NDArray[np.float64]) -> npt.NDArray[np.uint8]:
    """The 112x112 aligned crop of the face whose 5 landmarks (in ``image`` pixels) are given.

    Large faces are first reduced with area averaging around the face, so the final warp never
    aliases (a 12 MP selfie's face can be 1,000 px wide).
    """
    matrix = similarity_transform(landmarks.astype(np.float64), TEMPLATE)
    scale = float(np.hypot(matrix[0, 0], matrix[0, 1]))
    if scale < 0.5:
        # crop a generous window around the face, shrink it to ~2x the crop's scale, then warp
        centre = landmarks.mean(axis=0)
        half = CROP_SIZE / scale
        h, w = image.shape[:2]
        x0, y0 = max(0, int(centre[0] - half)), max(0, int(centre[1] - half))
        x1, y1 = min(w, int(centre[0] + half) + 1), min(h, int(centre[1] + half) + 1)
        window = image[y0:y1, x0:x1]
        factor = 2.0 * scale
        small = cv2.resize(
            window,
            (max(1, round(window.shape[1] * factor)), max(1, round(window.shape[0] * factor))),
            interpolation=cv2.INTER_AREA,
        )
        shifted = (landmarks - np.array([x0, y0])) * np.array(
            [small.shape[1] / max(window.shape[1], 1), small.shape[0] / max(window.shape[0], 1)]
        )
        matrix = similarity_transform(shifted, TEMPLATE)
        image = np.asarray(small, dtype=np.uint8)
    crop = cv2.warpAffine(
        image, matrix, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return np.ascontiguousarray(crop, dtype=np.uint8)
