"""The stored form of an image: decoded once within the engine's caps, then re-encoded from its
pixels, so no EXIF, GPS, ICC profile or trailing bytes of the upload are ever kept."""

from __future__ import annotations

import io

from PIL import Image

from facematch.config import Settings
from facematch.engine.images import DecodedImage, decode_image, encode_jpeg


def decode_for_storage(data: bytes, settings: Settings) -> DecodedImage:
    """Decode an image within the engine's caps (the one decode an upload or a capture pays for)."""
    return decode_image(
        data,
        max_bytes=settings.engine.max_image_bytes,
        max_pixels=settings.engine.max_image_pixels,
        max_full_decode_pixels=settings.engine.max_full_decode_pixels,
    )


def encode_derivative(decoded: DecodedImage) -> bytes:
    """The stored form of a decoded image, re-encoded from its pixels (no EXIF, GPS, ICC or trailing
    bytes). PNG stays lossless PNG; everything else becomes JPEG."""
    if decoded.format != "png":
        return encode_jpeg(decoded.rgb)
    out = io.BytesIO()
    Image.fromarray(decoded.rgb).save(out, format="PNG")
    return out.getvalue()


def make_derivative(data: bytes, settings: Settings) -> bytes:
    """The stored form of an image's bytes (:func:`decode_for_storage`, then :func:`encode_derivative`)."""
    return encode_derivative(decode_for_storage(data, settings))
