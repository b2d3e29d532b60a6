"""Video for liveness tests: a Chromium fake-camera file (y4m) and short clips (WebM, MP4, MJPEG),
built in memory from frames.

* :func:`y4m` writes YUV4MPEG2 (4:2:0) that ``--use-file-for-fake-video-capture`` plays;
* :func:`photo_frames` shows real photos one after another (e.g. one person at several head
  poses), each held for a while, letterboxed into the camera's frame;
* :func:`print_frames` shows one photo as a print moved, tilted and turned in front of the
  camera (``presentation.planar_view``: a homography per frame), the attack the depth check stops;
* :func:`encode_clip` encodes frames as a backend partner's clip, for the clip decoder;
* :func:`fake_moves` makes frames the fake engine reads as a head (or a flat print of it) doing a
  challenge's moves, for the service's tests that run on the fake engine.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence

import av
import cv2
import numpy as np

from facematch.engine.fake import fake_face_image
from facematch.engine.images import decode_image
from facematch.engine.presentation import CardPose, planar_view

RGB = np.ndarray


def y4m(frames: Iterable[RGB], fps: int = 10) -> bytes:
    """The frames (RGB, all the same even size) as a 4:2:0 YUV4MPEG2 file."""
    out = io.BytesIO()
    size: tuple[int, int] | None = None
    for frame in frames:
        h, w = frame.shape[:2]
        if size is None:
            if w % 2 or h % 2:
                raise ValueError("y4m frames need even sides")
            size = (w, h)
            out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        elif (w, h) != size:
            raise ValueError("every frame must have the first frame's size")
        out.write(b"FRAME\n")
        out.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2YUV_I420).tobytes())
    if size is None:
        raise ValueError("no frames")
    return out.getvalue()


def fit(photo: RGB, size: tuple[int, int] = (640, 480)) -> RGB:
    """``photo`` scaled to fit a ``size`` (width, height) frame, on grey."""
    w, h = size
    scale = min(w / photo.shape[1], h / photo.shape[0])
    small = cv2.resize(photo, (round(photo.shape[1] * scale), round(photo.shape[0] * scale)))
    frame = np.full((h, w, 3), 110, dtype=np.uint8)
    y0, x0 = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    frame[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
    return frame


def photo_frames(photos: Sequence[RGB], hold: int = 10, size: tuple[int, int] = (640, 480)) -> list[RGB]:
    """Each photo held for ``hold`` frames, in order."""
    return [fit(photo, size) for photo in photos for _ in range(hold)]


def print_frames(photo: RGB, count: int = 40, size: tuple[int, int] = (640, 480)) -> list[RGB]:
    """``photo`` as a print held in front of the camera and turned left and right by up to 40°,
    tilted by up to 20° and brought closer, smoothly over ``count`` frames."""
    frames = []
    for i in range(count):
        phase = 2 * math.pi * i / count
        pose = CardPose(
            yaw=40 * math.sin(phase),
            pitch=20 * math.sin(2 * phase),
            roll=5 * math.sin(3 * phase),
            distance=1.0 - 0.25 * max(0.0, math.sin(phase / 2)),
        )
        frames.append(planar_view(photo, pose, size)[0])
    return frames


def encode_clip(frames: Sequence[RGB], kind: str = "webm", fps: int = 10) -> bytes:
    """``frames`` as a ``kind`` clip ("webm": VP8, "mp4": H.264, "mjpeg": raw JPEG frames)."""
    if kind == "mjpeg":
        out = io.BytesIO()
        for frame in frames:
            ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            assert ok
            out.write(data.tobytes())
        return out.getvalue()
    codec, container = {"webm": ("libvpx", "webm"), "mp4": ("libx264", "mp4")}[kind]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as output:
        stream = output.add_stream(codec, rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            ):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return buffer.getvalue()


def fake_moves(
    moves: Sequence[str], *, person: int = 1, flat: bool = False, hold: int = 4, size: int = 64
) -> list[RGB]:
    """Frames the fake engine reads as person ``person`` doing ``moves`` (``TURN_LEFT``,
    ``TURN_RIGHT``, ``COME_CLOSER``), each pose held for ``hold`` frames: frontal first, each turn
    (30°) there and back, coming closer (1.4×) and back. ``flat``: a print of the head, slanted to
    fake the turns (no depth)."""

    def frame(yaw: int = 0, scale: float = 1.0) -> RGB:
        image = fake_face_image(person, yaw_deg=yaw, scale=scale, flat=flat, size=size)
        return decode_image(image).rgb

    frontal = frame()
    out = [frontal] * (2 * hold)
    for move in moves:
        if move == "COME_CLOSER":
            out += [frame(scale=1.4)] * hold
        else:
            out += [frame(yaw=30 if move == "TURN_LEFT" else -30)] * hold
        out += [frontal] * hold
    return out
