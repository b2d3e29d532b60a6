"""Video for liveness tests: a Chromium fake-camera file (y4m) and short clips (WebM, MP4, MJPEG),
built in memory from frames.

* :func:`y4m` writes YUV4MPEG2 (4:2:0) that ``--use-file-for-fake-video-capture`` plays;
* :func:`photo_frames` shows real photos one after another (e.g. one person at several head
  poses), each held for a while, letterboxed into the camera's frame;
* :func:`print_frames` shows one photo as a print moved, tilted and turned in front of the
  camera (``presentation.planar_view``: a homography per frame), the attack the depth check stops;
* :func:`encode_clip` encodes frames as a backend partner's clip, for the clip decoder;
* :func:`live_moves` shows one person's real photos at several head poses (:data:`OBAMA`) in the
  order of a challenge's moves, :func:`print_moves` one photo held as a print through them;
* :func:`fake_moves` makes frames the fake engine reads as a head (or a flat print of it) doing a
  challenge's moves, for the service's tests that run on the fake engine.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import av
import cv2
import numpy as np

from facematch.engine.fake import fake_face_image
from facematch.engine.images import decode_image
from facematch.engine.presentation import CardPose, planar_view

#: one person's photos in ``../shared/faces`` at the poses a challenge asks for: (file, mirrored).
#: Letterboxed into 640x480 frames the landmarks read a yaw of -0.003 (frontal), +0.26 (obama2,
#: mirrored: turned to his left) and -0.265 (obama4, mirrored: to his right), well past the 0.15
#: at which a turn registers; a mirrored head is still a head (its depth is unchanged)
OBAMA = {"FRONT": ("obama.jpg", False), "TURN_LEFT": ("obama2.jpg", True), "TURN_RIGHT": ("obama4.jpg", True)}
#: a phone camera's bit rate (the encoders' defaults blur a turned face's landmarks)
PHONE_BIT_RATE = 3_000_000

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


def encode_clip(
    frames: Sequence[RGB], kind: str = "webm", fps: int = 10, bit_rate: int | None = None
) -> bytes:
    """``frames`` as a ``kind`` clip ("webm": VP8, "mp4": H.264, "mjpeg": raw JPEG frames);
    ``bit_rate`` (bits per second): a phone camera's quality rather than the encoder's default."""
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
        if bit_rate is not None:
            stream.bit_rate = bit_rate
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


def closer(frame: RGB, zoom: float) -> RGB:
    """``frame`` as the camera sees it from closer (enlarged about its centre)."""
    h, w = frame.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 0, zoom)
    return np.ascontiguousarray(cv2.warpAffine(frame, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE))


def _moves(
    front: RGB, shown: Callable[[str], RGB], moves: Sequence[str], lead: int, hold: int, tail: int
) -> list[RGB]:
    """``front`` for ``lead`` frames, then for each move ``shown(move)`` for ``hold`` frames and
    ``front`` for ``hold`` more, then ``tail`` frames of ``front``."""
    out = [front] * lead
    for move in moves:
        out += [shown(move)] * hold + [front] * hold
    return out + [front] * tail


def live_moves(
    poses: dict[str, RGB],
    moves: Sequence[str],
    *,
    lead: int = 10,
    hold: int = 8,
    tail: int = 8,
    size: tuple[int, int] = (640, 480),
) -> list[RGB]:
    """A person doing ``moves``: ``poses["FRONT"]``, and for each move its photo (``poses[move]``;
    ``COME_CLOSER``: the frontal photo enlarged 1.35×), timed as :func:`_moves` says (the tail:
    facing the camera for the selfie)."""
    front = fit(poses["FRONT"], size)

    def shown(move: str) -> RGB:
        return closer(front, 1.35) if move == "COME_CLOSER" else fit(poses[move], size)

    return _moves(front, shown, moves, lead, hold, tail)


#: how a print is held to answer each move: turned and tilted, or brought closer
_PRINT_POSES = {
    "TURN_LEFT": CardPose(yaw=-45, pitch=10),
    "TURN_RIGHT": CardPose(yaw=45, pitch=-10),
    "COME_CLOSER": CardPose(distance=0.75),
}


def print_moves(
    photo: RGB,
    moves: Sequence[str],
    *,
    lead: int = 10,
    hold: int = 8,
    tail: int = 8,
    size: tuple[int, int] = (640, 480),
) -> list[RGB]:
    """``photo`` printed and held in front of the camera through ``moves`` (timed as
    :func:`live_moves`): turned and tilted in 3D for a turn, brought closer for ``COME_CLOSER``."""
    front = planar_view(photo, CardPose(), size)[0]
    return _moves(
        front, lambda move: planar_view(photo, _PRINT_POSES[move], size)[0], moves, lead, hold, tail
    )


def load_poses(faces_dir: Path, poses: dict[str, tuple[str, bool]] = OBAMA) -> dict[str, RGB]:
    """The photos of ``poses`` from ``faces_dir`` (``../shared/faces``), mirrored where marked."""
    out = {}
    for pose, (name, mirrored) in poses.items():
        rgb = decode_image((faces_dir / "images" / name).read_bytes()).rgb
        out[pose] = np.ascontiguousarray(rgb[:, ::-1]) if mirrored else rgb
    return out
