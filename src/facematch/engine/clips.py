"""Safe decoding of a short liveness clip (WebM, MP4 or MJPEG), from memory, under caps.

A backend partner with its own camera sends the challenge as one short clip. Like an image
(:mod:`facematch.engine.images`), a clip is hostile input until decoded within bounds:

byte cap → magic-byte allowlist (Matroska/WebM, MP4/QuickTime, raw MJPEG) → FFmpeg (PyAV) opened on
the bytes in memory with that one demuxer forced (no format probing, every nested open refused:
nothing is read from or written to disk) → one video stream in an allowed codec (VP8, VP9, AV1,
H.264, HEVC, MJPEG) → declared size and duration checked before any frame is decoded → FFmpeg's
own pixel cap on every decoder (a frame that grows past it mid-stream is refused) → frames
decoded one thread at a time, counted and timed: more than ``max_frames`` or past
``max_duration_s`` is refused → only one frame per ``1 / sample_fps`` seconds is kept, reduced to
``frame_side`` pixels on its longer side (intra-only MJPEG frames that are not kept are not even
decoded). Every decoder failure is one typed :class:`~facematch.errors.ClipError`.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import av
import av.error
import numpy as np
from PIL import Image, UnidentifiedImageError

from facematch.engine.images import DecodedImage
from facematch.errors import (
    ClipError,
    ClipTooLargeError,
    ClipTooLongError,
    CorruptClipError,
    EmptyClipError,
    UnsupportedClipFormatError,
)

#: our clip kinds and the FFmpeg demuxer each is read with
DEMUXERS = {"webm": "matroska", "mp4": "mov", "mjpeg": "mjpeg"}
CODECS = frozenset({"vp8", "vp9", "av1", "libdav1d", "h264", "hevc", "mjpeg"})
#: ``ftyp`` brands of still images (HEIC/AVIF), which the MP4 demuxer must not see
_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"}
_MIN_SIDE = 16
#: how many streams a clip may hold (video plus, say, audio)
_MAX_STREAMS = 4


@dataclass(frozen=True, slots=True)
class ClipFrame:
    """One kept frame: its time in the clip (seconds from the first frame) and its pixels."""

    t: float
    image: DecodedImage


@dataclass(frozen=True, slots=True)
class DecodedClip:
    format: str
    codec: str
    width: int
    height: int
    frame_count: int
    """Frames the clip holds."""
    decoded_frames: int
    """Frames decoded (kept or not; MJPEG frames that are not kept are not decoded)."""
    duration_s: float
    """Time of the last frame."""
    frames: tuple[ClipFrame, ...]


def sniff_clip(data: bytes) -> str | None:
    """The clip kind from magic bytes: "webm" (any Matroska), "mp4", "mjpeg", or None."""
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if data[4:8] == b"ftyp" and data[8:12] not in _IMAGE_BRANDS:
        return "mp4"
    if data[:3] == b"\xff\xd8\xff":
        return "mjpeg"
    return None


def _refuse_nested_open(url: str, flags: int, options: Mapping[str, Any]) -> Any:
    raise PermissionError("a clip may not refer to other files")


def _first_jpeg_size(data: bytes) -> tuple[int, int]:
    """The first MJPEG frame's declared size, read from its header (nothing is decoded)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["JPEG"]) as first:
                return first.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ClipTooLargeError(str(error)) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise CorruptClipError(f"the clip cannot be decoded ({type(error).__name__})") from None


def decode_clip(
    data: bytes,
    *,
    max_bytes: int = 5 * 1024 * 1024,
    max_duration_s: float = 10.0,
    max_pixels: int = 1920 * 1920,
    max_frames: int = 320,
    sample_fps: float = 5.0,
    frame_side: int = 640,
    mjpeg_fps: float = 10.0,
) -> DecodedClip:
    """Decode the frames of ``data`` that a liveness verdict needs, or raise a ``ClipError``.

    ``max_pixels``: per frame (1080p fits, 4K does not); ``max_frames``: frames in the clip
    (30 fps for 10 s, with room); ``sample_fps``: frames kept per second of clip; ``mjpeg_fps``:
    the rate a raw MJPEG stream's frames are taken to come at (it carries no times).
    """
    if not data:
        raise EmptyClipError()
    if len(data) > max_bytes:
        raise ClipTooLargeError(f"clip is {len(data)} bytes; the limit is {max_bytes}")
    kind = sniff_clip(data)
    if kind is None:
        raise UnsupportedClipFormatError()
    if kind == "mjpeg":
        width, height = _first_jpeg_size(data)
        _check_size(width, height, max_pixels)
    caps = {"max_pixels": str(max_pixels)}
    try:
        with av.open(
            io.BytesIO(data),
            format=DEMUXERS[kind],
            container_options={"framerate": f"{mjpeg_fps:g}"} if kind == "mjpeg" else {},
            stream_options=[caps] * _MAX_STREAMS,  # type: ignore[list-item]  # the stub says str; FFmpeg takes a dict per stream
            io_open=_refuse_nested_open,
        ) as container:
            return _decode(
                container, kind, caps, max_duration_s, max_pixels, max_frames, sample_fps, frame_side
            )
    except ClipError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, EOFError, IndexError, KeyError, TypeError,
            ZeroDivisionError, MemoryError, RuntimeError, OverflowError) as error:  # fmt: skip
        raise CorruptClipError(f"the clip cannot be decoded ({type(error).__name__})") from None


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ClipTooLargeError(f"clip frames are {width}x{height} pixels; the limit is {max_pixels}")
    if 0 < width < _MIN_SIDE or 0 < height < _MIN_SIDE:
        raise CorruptClipError(f"clip frames are {width}x{height} pixels")


def _decode(
    container: Any,
    kind: str,
    caps: dict[str, str],
    max_duration_s: float,
    max_pixels: int,
    max_frames: int,
    sample_fps: float,
    frame_side: int,
) -> DecodedClip:
    if len(container.streams) > _MAX_STREAMS or not container.streams.video:
        raise UnsupportedClipFormatError("the clip must hold one video stream")
    stream = container.streams.video[0]
    context = stream.codec_context
    codec = context.name
    if codec not in CODECS:
        raise UnsupportedClipFormatError(f"video codec {codec} is not accepted")
    _check_size(context.width, context.height, max_pixels)
    declared = container.duration / 1_000_000 if container.duration else 0.0
    if declared > max_duration_s + 0.5:
        raise ClipTooLongError(f"clip lasts {declared:.1f} s; the limit is {max_duration_s:g} s")
    context.options = caps
    context.thread_count = 1
    intra_only = codec == "mjpeg"
    step = 1.0 / sample_fps
    next_kept = 0.0
    first: float | None = None
    seen = decoded = 0
    last = 0.0
    kept: list[ClipFrame] = []
    for packet in container.demux(stream):
        if packet.size == 0:
            frames = packet.decode()  # flush
        else:
            t_packet = _seconds(packet.pts, stream.time_base)
            if (
                intra_only
                and t_packet is not None
                and first is not None
                and t_packet - first + 1e-6 < next_kept
            ):
                seen += 1
                last = t_packet - first
                _bound(seen, max_frames, last, max_duration_s)
                continue
            frames = packet.decode()
        for frame in frames:
            seen += 1
            decoded += 1
            if frame.time is None:
                raise CorruptClipError("a clip frame has no time")
            if first is None:
                first = frame.time
            last = frame.time - first
            _bound(seen, max_frames, last, max_duration_s)
            if frame.width * frame.height > max_pixels:
                raise ClipTooLargeError(f"a clip frame is {frame.width}x{frame.height} pixels")
            if last + 1e-6 >= next_kept:
                kept.append(ClipFrame(round(last, 4), _image(frame, kind, frame_side)))
                next_kept = last + step
    if not kept:
        raise CorruptClipError("the clip holds no decodable frame")
    return DecodedClip(kind, codec, context.width, context.height, seen, decoded, round(last, 4), tuple(kept))


def _seconds(pts: int | None, time_base: Any) -> float | None:
    return None if pts is None or time_base is None else float(pts * time_base)


def _bound(decoded: int, max_frames: int, t: float, max_duration_s: float) -> None:
    if decoded > max_frames:
        raise ClipTooLargeError(f"the clip has more than {max_frames} frames")
    if t > max_duration_s:
        raise ClipTooLongError(f"the clip lasts longer than {max_duration_s:g} s")


def _image(frame: Any, kind: str, frame_side: int) -> DecodedImage:
    width, height = frame.width, frame.height
    scale = min(1.0, frame_side / max(width, height))
    out_w, out_h = max(1, round(width * scale)), max(1, round(height * scale))
    rgb = frame.reformat(width=out_w, height=out_h, format="rgb24").to_ndarray()
    return DecodedImage(
        rgb=np.ascontiguousarray(rgb, dtype=np.uint8),
        format=kind,
        original_width=width,
        original_height=height,
        exif_orientation=1,
        scale=out_w / width,
    )
