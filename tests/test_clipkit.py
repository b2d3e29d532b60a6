"""The video kit writes y4m that a YUV4MPEG2 reader (FFmpeg's) plays back frame for frame."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest

from clipkit import photo_frames, print_frames, y4m
from facematch.engine.images import decode_image


def _played(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data), format="yuv4mpegpipe") as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_y4m_plays_back_the_frames(faces_dir: Path) -> None:
    photos = [decode_image((faces_dir / "images" / n).read_bytes()).rgb for n in ("obama.jpg", "biden.jpg")]
    frames = photo_frames(photos, hold=3, size=(320, 240))
    data = y4m(frames, fps=15)
    assert data.startswith(b"YUV4MPEG2 W320 H240 F15:1 ")
    played = _played(data)
    assert len(played) == 6
    for original, back in zip(frames, played, strict=True):
        assert back.shape == (240, 320, 3)
        assert float(np.abs(back.astype(int) - original.astype(int)).mean()) < 4  # 4:2:0 round trip


def test_a_print_moves_in_3d_across_frames(faces_dir: Path) -> None:
    photo = decode_image((faces_dir / "images" / "obama.jpg").read_bytes()).rgb
    frames = print_frames(photo, count=8, size=(320, 240))
    assert len(frames) == 8 and all(f.shape == (240, 320, 3) for f in frames)
    assert len({f.tobytes() for f in frames}) == 8  # every frame a new view
    assert len(_played(y4m(frames))) == 8
    with pytest.raises(ValueError, match="even"):
        y4m([np.zeros((11, 10, 3), np.uint8)])
