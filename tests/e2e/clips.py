"""Fake-camera clips for Chromium: YUV4MPEG2 (4:2:0) files made from still photos.

Chromium's ``--use-file-for-fake-video-capture`` loops the clip as the camera. A face clip centres
the photo's face in the app's oval at a comfortable size, the way a user would hold the phone.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facematch.engine.types import Engine, ImageRole

WIDTH, HEIGHT = 640, 480
#: Face width as a fraction of the visible 3:4 centre crop, and the oval's centre (see guidance.py).
FACE_WIDTH = 0.5
CENTRE_Y = 0.475


def write_y4m(frame_bgr: np.ndarray, path: Path, *, frames: int = 4, fps: int = 10) -> Path:
    """Write ``frame_bgr`` (HEIGHT x WIDTH) as a ``frames``-long 4:2:0 clip."""
    return write_sequence([frame_bgr] * frames, path, fps=fps)


def write_sequence(frames_bgr: list[np.ndarray], path: Path, *, fps: int = 10) -> Path:
    """Write the frames (each HEIGHT x WIDTH) as one 4:2:0 clip; the fake camera loops it."""
    height, width = frames_bgr[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames_bgr:
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


def flicker_frames() -> list[np.ndarray]:
    """A wall whose light changes every frame (a restless scene): every look sees a change."""
    wall = empty_frame().astype(np.int16)
    return [np.clip(wall + shift, 0, 255).astype(np.uint8) for shift in (0, 30)]


def face_frame(photo: Path, engine: Engine) -> np.ndarray:
    """The photo moved and scaled so its (largest) face fills the oval of a 640x480 camera frame."""
    data = photo.read_bytes()
    box = engine.analyze(data, ImageRole.REFERENCE).box
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
