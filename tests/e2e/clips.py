"""Fake-camera clips for Chromium: YUV4MPEG2 (4:2:0) files made from still photos.

Chromium's ``--use-file-for-fake-video-capture`` loops the clip as the camera. A face clip centres
the photo's face in the app's oval at a comfortable size, the way a user would hold the phone.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facematch.engine.types import Engine, Role

WIDTH, HEIGHT = 640, 480
#: Face width as a fraction of the visible 3:4 centre crop, and the oval's centre (see guidance.py).
FACE_WIDTH = 0.5
CENTRE_Y = 0.475


def write_y4m(frame_bgr: np.ndarray, path: Path, *, frames: int = 4, fps: int = 10) -> Path:
    """Write ``frame_bgr`` (HEIGHT x WIDTH) as a ``frames``-long 4:2:0 clip."""
    height, width = frame_bgr.shape[:2]
    i420 = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2YUV_I420)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n")
            out.write(i420.tobytes())
    return path


def face_frame(photo: Path, engine: Engine) -> np.ndarray:
    """The photo moved and scaled so its (largest) face fills the oval of a 640x480 camera frame."""
    data = photo.read_bytes()
    box = engine.analyze(data, Role.REFERENCE).box
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    visible_width = HEIGHT * 3 / 4
    scale = FACE_WIDTH * visible_width / box.width
    cx, cy = box.x + box.width / 2, box.y + box.height / 2
    matrix = np.array(
        [[scale, 0, WIDTH / 2 - scale * cx], [0, scale, CENTRE_Y * HEIGHT - scale * cy]], dtype=np.float64
    )
    size = (WIDTH, HEIGHT)
    return cv2.warpAffine(image, matrix, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def empty_frame() -> np.ndarray:
    """A plain, lit wall: something for the camera to show, with no face in it."""
    rng = np.random.default_rng(7)
    gradient = np.linspace(150, 210, WIDTH, dtype=np.float32)[None, :, None]
    noise = rng.normal(0, 4, (HEIGHT, WIDTH, 3)).astype(np.float32)
    return np.clip(np.broadcast_to(gradient, (HEIGHT, WIDTH, 3)) + noise, 0, 255).astype(np.uint8)
