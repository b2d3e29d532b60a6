"""Presentation-attack instruments made from one photo, for benchmarks and tests.

A print or a screen is one flat surface: whatever way it is moved, tilted or turned in front of a
camera, the camera sees the photo through a homography. :func:`planar_view` renders that view
(a pinhole camera looking at the photo as a card in space); :func:`on_screen` first makes the
photo look as a phone screen shows it (tone curve, moiré, a reflection, the bezel);
:func:`flat_view` renders the 2D fakes (rotation, scaling and slant in the image plane). Every
function returns the pixels and the 3×3 matrix that took the photo's pixels to the frame's, so a
caller can predict where the photo's landmarks land. Deterministic for a given ``rng``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

RGB = npt.NDArray[np.uint8]
Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class CardPose:
    """Where a flat photo is held: turned about the vertical axis (``yaw``), tilted about the
    horizontal one (``pitch``), rotated in its plane (``roll``), all in degrees; ``distance`` in
    multiples of the distance at which it fills ``fill`` of the frame width; ``shift`` of its
    centre in frame widths."""

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    distance: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)


def card_homography(
    photo_size: tuple[int, int],
    frame_size: tuple[int, int],
    pose: CardPose,
    *,
    fill: float = 0.6,
    focal: float = 1.0,
) -> Matrix:
    """The homography from the photo's pixels to the frame's for a card held at ``pose``.

    ``photo_size``/``frame_size``: (width, height). ``focal``: the camera's focal length in frame
    widths (a phone's front camera: about 1; the card then fills ``fill`` of the width when
    ``distance`` is 1).
    """
    pw, ph = photo_size
    fw, fh = frame_size
    f = focal * fw
    # the card in space, in units where distance 1 makes its width fill ``fill`` of the frame
    half_w = fill * fw / (2 * f)
    half_h = half_w * ph / pw
    rx, ry, rz = (math.radians(a) for a in (pose.pitch, pose.yaw, pose.roll))
    rot_x = np.array([[1, 0, 0], [0, math.cos(rx), -math.sin(rx)], [0, math.sin(rx), math.cos(rx)]])
    rot_y = np.array([[math.cos(ry), 0, math.sin(ry)], [0, 1, 0], [-math.sin(ry), 0, math.cos(ry)]])
    rot_z = np.array([[math.cos(rz), -math.sin(rz), 0], [math.sin(rz), math.cos(rz), 0], [0, 0, 1]])
    corners = np.array(
        [[-half_w, -half_h, 0], [half_w, -half_h, 0], [half_w, half_h, 0], [-half_w, half_h, 0]]
    )
    centre = np.array(
        [pose.shift[0] * fw / f * pose.distance, pose.shift[1] * fw / f * pose.distance, pose.distance]
    )
    placed = corners @ (rot_z @ rot_y @ rot_x).T + centre
    projected = placed[:, :2] / placed[:, 2:3] * f + np.array([fw / 2, fh / 2])
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], dtype=np.float32)
    return np.asarray(cv2.getPerspectiveTransform(src, projected.astype(np.float32)), dtype=np.float64)


def _render(photo: RGB, matrix: Matrix, frame_size: tuple[int, int], background: RGB | None) -> RGB:
    fw, fh = frame_size
    canvas = (
        np.full((fh, fw, 3), 110, dtype=np.uint8)
        if background is None
        else np.ascontiguousarray(cv2.resize(background, (fw, fh), interpolation=cv2.INTER_AREA))
    )
    out = cv2.warpPerspective(
        photo, matrix, (fw, fh), dst=canvas, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT
    )
    return np.ascontiguousarray(out, dtype=np.uint8)


def planar_view(
    photo: RGB,
    pose: CardPose,
    frame_size: tuple[int, int] = (480, 640),
    *,
    background: RGB | None = None,
    fill: float = 0.6,
    focal: float = 1.0,
) -> tuple[RGB, Matrix]:
    """The frame a camera takes of ``photo`` printed as a card and held at ``pose``."""
    matrix = card_homography((photo.shape[1], photo.shape[0]), frame_size, pose, fill=fill, focal=focal)
    return _render(photo, matrix, frame_size, background), matrix


def on_screen(photo: RGB, rng: np.random.Generator) -> RGB:
    """``photo`` as a phone screen shows it to a camera: a display tone curve, a moiré of the
    pixel grid against the sensor's, a soft reflection, slight defocus and a black bezel."""
    h, w = photo.shape[:2]
    tones = (photo.astype(np.float32) / 255.0) ** rng.uniform(0.7, 1.4)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, math.pi)
    period = rng.uniform(2.5, 7.0)
    moire = np.sin((xx * math.cos(angle) + yy * math.sin(angle)) * 2 * math.pi / period)
    tones *= 1.0 + rng.uniform(0.04, 0.12) * moire[..., None]
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    radius = rng.uniform(0.3, 0.8) * max(w, h)
    glare = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * radius**2))
    tones += rng.uniform(0.1, 0.35) * glare[..., None]
    shown = np.clip(tones * 255.0, 0, 255).astype(np.uint8)
    shown = np.asarray(cv2.GaussianBlur(shown, (0, 0), rng.uniform(0.4, 1.0)), dtype=np.uint8)
    bezel = max(2, round(0.06 * w))
    framed = cv2.copyMakeBorder(shown, bezel, bezel, bezel, bezel, cv2.BORDER_CONSTANT, value=(12, 12, 12))
    return np.ascontiguousarray(framed, dtype=np.uint8)


def flat_view(
    photo: RGB,
    *,
    angle: float = 0.0,
    scale: float = 1.0,
    slant: float = 0.0,
    frame_size: tuple[int, int] = (480, 640),
    background: RGB | None = None,
    fill: float = 0.6,
) -> tuple[RGB, Matrix]:
    """``photo`` moved in the image plane only: rotated by ``angle`` degrees, scaled by ``scale``
    and slanted (a horizontal shear of ``slant`` per unit of height), centred in the frame at
    ``fill`` of its width."""
    pw, ph = photo.shape[1], photo.shape[0]
    fw, fh = frame_size
    base = fill * fw / pw * scale
    to_centre = np.array([[1, 0, -pw / 2], [0, 1, -ph / 2], [0, 0, 1]], dtype=np.float64)
    shear = np.array([[1, slant, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float64)
    a = math.radians(angle)
    rotate = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    place = np.array([[base, 0, fw / 2], [0, base, fh / 2], [0, 0, 1]], dtype=np.float64)
    matrix = place @ rotate @ shear @ to_centre
    return _render(photo, matrix, frame_size, background), matrix


def carry(points: npt.NDArray[np.float64], matrix: Matrix) -> npt.NDArray[np.float64]:
    """``points`` (N×2) taken through the homography ``matrix``."""
    moved = cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float64), matrix)
    return np.asarray(moved.reshape(-1, 2), dtype=np.float64)
