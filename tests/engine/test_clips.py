"""Liveness clips are decoded from memory under caps, sampled, and refused with typed errors."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from PIL import Image

from clipkit import encode_clip
from facematch.engine.clips import decode_clip, sniff_clip
from facematch.errors import (
    ClipError,
    ClipTooLargeError,
    ClipTooLongError,
    CorruptClipError,
    EmptyClipError,
    UnsupportedClipFormatError,
)


def frames(count: int, size: tuple[int, int] = (320, 240)) -> list[np.ndarray]:
    """Frames whose brightness says their index (10 per frame), with a gradient to encode."""
    w, h = size
    ramp = np.tile(np.linspace(0, 60, w, dtype=np.float32), (h, 1))
    return [
        np.repeat((ramp + 10 * (i % 18))[..., None], 3, axis=2).clip(0, 255).astype(np.uint8)
        for i in range(count)
    ]


@pytest.mark.parametrize("kind", ["webm", "mp4", "mjpeg"])
def test_a_clip_is_sampled_at_a_fixed_rate_in_time_order(kind: str) -> None:
    data = encode_clip(frames(30), kind, fps=10)
    assert sniff_clip(data) == kind
    clip = decode_clip(data, sample_fps=5.0)
    assert clip.format == kind
    assert (clip.width, clip.height) == (320, 240)
    assert clip.decoded_frames == (15 if kind == "mjpeg" else 30)  # MJPEG: frames not kept are not decoded
    assert len(clip.frames) == 15
    times = [f.t for f in clip.frames]
    assert times[0] == 0.0
    assert np.allclose(np.diff(times), 0.2, atol=0.02)
    for kept in clip.frames:
        index = round(kept.t * 10)
        assert kept.image.rgb.shape == (240, 320, 3)
        assert abs(float(kept.image.rgb.mean()) - (30 + 10 * (index % 18))) < 6


def test_large_frames_are_kept_reduced() -> None:
    clip = decode_clip(encode_clip(frames(4, (1280, 720)), "webm"), frame_side=640)
    image = clip.frames[0].image
    assert image.rgb.shape == (360, 640, 3)
    assert (image.original_width, image.scale) == (1280, 0.5)


def test_empty_and_oversized_clips() -> None:
    with pytest.raises(EmptyClipError):
        decode_clip(b"")
    with pytest.raises(ClipTooLargeError):
        decode_clip(b"\x1a\x45\xdf\xa3" + bytes(6 * 1024 * 1024))


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32)).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        b"not a video at all, just text",
        bytes(range(256)) * 4,
        b"GIF89a" + bytes(100),
        b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(100),
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64),
        b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(64),
        b"#EXTM3U\n#EXT-X-TARGETDURATION:1\nfile:///etc/passwd\n",
        b"ffconcat version 1.0\nfile /etc/passwd\n",
    ],
    ids=["text", "noise", "gif", "avi", "heic", "avif", "hls playlist", "concat list"],
)
def test_other_formats_are_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedClipFormatError):
        decode_clip(data)
    with pytest.raises(UnsupportedClipFormatError):
        decode_clip(_png())


@pytest.mark.parametrize("kind", ["webm", "mp4", "mjpeg"])
@pytest.mark.parametrize("keep", [8, 40, 200])
def test_truncated_clips_are_corrupt(kind: str, keep: int) -> None:
    data = encode_clip(frames(10), kind)
    with pytest.raises(CorruptClipError):
        decode_clip(data[:keep])


def test_a_huge_declared_frame_is_refused_before_decoding() -> None:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 90, 90)).save(out, format="JPEG")
    jpeg = bytearray(out.getvalue())
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = (20000).to_bytes(2, "big") + (20000).to_bytes(2, "big")
    with pytest.raises(ClipTooLargeError):
        decode_clip(bytes(jpeg) * 5)
    # a later frame that grows past the cap is refused by the decoder itself
    good = encode_clip(frames(3, (64, 48)), "mjpeg")
    with pytest.raises(ClipError):
        decode_clip(good + bytes(jpeg), sample_fps=100)


def test_frames_larger_than_the_pixel_cap_are_refused() -> None:
    with pytest.raises(ClipTooLargeError):
        decode_clip(encode_clip(frames(2, (640, 480)), "webm"), max_pixels=320 * 240)


def test_thousands_of_frames_or_a_long_clip_are_refused() -> None:
    many = encode_clip(frames(400, (32, 32)), "webm", fps=200)
    with pytest.raises(ClipTooLargeError, match="more than 320 frames"):
        decode_clip(many)
    with pytest.raises(ClipTooLongError):
        decode_clip(encode_clip(frames(15, (32, 32)), "webm", fps=1))
    tiny = encode_clip(frames(1, (16, 16)), "mjpeg")
    with pytest.raises((ClipTooLongError, ClipTooLargeError)):
        decode_clip(tiny * 3000)


def _encode(codec: str, container: str, video: bool = True) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as output:
        if video:
            stream = output.add_stream(codec, rate=10)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            for frame in frames(5, (64, 48)):
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    output.mux(packet)
        else:
            stream = output.add_stream(codec, rate=48000)
            for i in range(5):
                samples = av.AudioFrame.from_ndarray(
                    np.zeros((1, 960), np.float32), format="flt", layout="mono"
                )
                samples.sample_rate, samples.pts = 48000, i * 960
                for packet in stream.encode(samples):
                    output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return buffer.getvalue()


def test_a_container_without_an_accepted_video_stream_is_unsupported() -> None:
    with pytest.raises(UnsupportedClipFormatError, match="codec mpeg4"):
        decode_clip(_encode("mpeg4", "matroska"))
    with pytest.raises(UnsupportedClipFormatError, match="one video stream"):
        decode_clip(_encode("libopus", "webm", video=False))
