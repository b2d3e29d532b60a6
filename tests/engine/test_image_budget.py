"""The decode budget: a few kilobytes never buy seconds of CPU or hundreds of megabytes.

A lossless WebP or a greyscale PNG of 7000×7000 is under 50 KB and used to decode in seconds into
147 MB of pixels; formats that cannot be decoded at a reduced size now have a budget of their own,
checked before any pixel is decoded. JPEGs keep the larger cap: they are decoded reduced
(test_images.py checks draft decoding).
"""

from __future__ import annotations

import io
import time
from functools import cache

import numpy as np
import pytest
from PIL import Image

from facematch.engine.images import decode_image, sniff_format
from facematch.errors import ImageTooLargeError, UnsupportedImageFormatError


@cache
def bomb(fmt: str) -> bytes:
    """7000×7000 of one grey: 7000² pixels in a few kilobytes."""
    out = io.BytesIO()
    if fmt == "WEBP":
        Image.new("RGB", (7000, 7000), (128, 128, 128)).save(out, "WEBP", lossless=True, method=0)
    else:
        Image.new("1", (7000, 7000), 1).save(out, "PNG", compress_level=9)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["WEBP", "PNG"])
def test_a_small_file_declaring_49_megapixels_is_refused_before_decoding(fmt: str) -> None:
    data = bomb(fmt)
    assert len(data) < 50_000
    started = time.perf_counter()
    with pytest.raises(ImageTooLargeError, match="decoded at full size"):
        decode_image(data)
    assert time.perf_counter() - started < 0.2


def test_a_large_png_within_the_budget_is_reduced_like_a_jpeg() -> None:
    out = io.BytesIO()
    Image.fromarray(np.full((2000, 3300, 3), 90, dtype=np.uint8)).save(out, "PNG")
    decoded = decode_image(out.getvalue())
    assert decoded.scale == pytest.approx(0.5) and decoded.rgb.shape[:2] == (1000, 1650)
    assert (decoded.original_width, decoded.original_height) == (3300, 2000)


def test_the_budget_is_a_parameter() -> None:
    out = io.BytesIO()
    Image.new("RGB", (300, 300)).save(out, "PNG")
    with pytest.raises(ImageTooLargeError):
        decode_image(out.getvalue(), max_full_decode_pixels=300 * 300 - 1)
    assert decode_image(out.getvalue(), max_full_decode_pixels=300 * 300).rgb.shape[:2] == (300, 300)


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    brands = b"".join(compatible)
    size = 16 + len(brands)
    return size.to_bytes(4, "big") + b"ftyp" + major + b"\x00\x00\x00\x00" + brands + b"\x00" * 64


@pytest.mark.parametrize(
    "data",
    [_ftyp(b"avif", b"avif", b"mif1", b"miaf"), _ftyp(b"avis", b"avis"), _ftyp(b"mif1", b"avif", b"miaf")],
    ids=["avif", "avif-sequence", "generic-brand-avif"],
)
def test_avif_is_an_unsupported_format_not_a_corrupt_one(data: bytes) -> None:
    assert sniff_format(data) is None
    with pytest.raises(UnsupportedImageFormatError):
        decode_image(data)


def test_heic_brands_still_sniff_as_heic() -> None:
    assert sniff_format(_ftyp(b"heic", b"mif1", b"heic")) == "heic"
    assert sniff_format(_ftyp(b"mif1", b"heic")) == "heic"
