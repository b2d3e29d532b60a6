"""Safe image decoding: caps before pixels, one typed error for every decoder failure.

Pipeline: byte cap → magic-byte allowlist (JPEG, PNG, WebP, HEIC) → ``Image.open`` restricted to
those formats with Pillow's bomb warning turned into an error → our pixel cap checked before any
pixel is decoded → single frame only → large JPEGs decoded at reduced size (draft mode) →
EXIF orientation applied → 8-bit RGB (16-bit, alpha, palette and greyscale handled).
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from facematch.errors import (
    AnimatedImageError,
    CorruptImageError,
    EmptyImageError,
    ImageTooLargeError,
    ImageTooSmallError,
    UnsupportedImageFormatError,
)

ImageFile.LOAD_TRUNCATED_IMAGES = False

#: Pillow format names we accept, keyed by what the magic bytes told us.
_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "heic": "HEIF"}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif"}
_MIN_SIDE = 16
_heif_registered = False


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """An upright 8-bit RGB image plus what we learnt while decoding it."""

    rgb: npt.NDArray[np.uint8]
    format: str
    original_width: int
    original_height: int
    exif_orientation: int
    scale: float
    """decoded size / original size (< 1 when a large JPEG was decoded in draft mode)."""


def sniff_format(data: bytes) -> str | None:
    """The image kind from magic bytes: "jpeg", "png", "webp", "heic", or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "heic"
    return None


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _heif_registered = True


def decode_image(
    data: bytes,
    *,
    max_bytes: int = 15 * 1024 * 1024,
    max_pixels: int = 50_000_000,
    draft_side: int | None = 1600,
) -> DecodedImage:
    """Decode ``data`` into an upright RGB array, or raise an :class:`~facematch.errors.ImageError`.

    ``draft_side``: a JPEG whose longer side is at least twice this is decoded at the smallest
    power-of-two reduction that keeps its longer side at least ``draft_side`` (None: full size),
    so a 12 MP selfie costs a quarter of its pixels.
    """
    if not data:
        raise EmptyImageError()
    if len(data) > max_bytes:
        raise ImageTooLargeError(f"image is {len(data)} bytes; the limit is {max_bytes}")
    kind = sniff_format(data)
    if kind is None:
        raise UnsupportedImageFormatError()
    if kind == "heic":
        _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[_FORMATS[kind]])
            width, height = image.size
            if width * height > max_pixels:
                raise ImageTooLargeError(f"image is {width}x{height} pixels; the limit is {max_pixels}")
            if width < _MIN_SIDE or height < _MIN_SIDE:
                raise ImageTooSmallError(f"image is {width}x{height} pixels")
            if getattr(image, "n_frames", 1) > 1:
                raise AnimatedImageError()
            if kind == "png":
                # PNG carries a CRC per chunk; Pillow only checks them in verify()
                Image.open(io.BytesIO(data), formats=["PNG"]).verify()
            orientation = _exif_orientation(image)
            scale = 1.0
            if kind == "jpeg" and draft_side is not None and max(width, height) >= 2 * draft_side:
                # draft() never goes below the requested size in either dimension
                ratio = draft_side / max(width, height)
                image.draft("RGB", (max(1, int(width * ratio)), max(1, int(height * ratio))))
                scale = image.size[0] / width
            image.load()
            upright = ImageOps.exif_transpose(image) or image
            rgb = _to_rgb8(upright)
    except (ImageTooLargeError, ImageTooSmallError, AnimatedImageError):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageTooLargeError(str(error)) from None
    except UnidentifiedImageError:
        raise CorruptImageError("the image cannot be identified") from None
    except (
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        IndexError,
        KeyError,
        TypeError,
        ZeroDivisionError,
        MemoryError,
        RuntimeError,
        struct.error,
    ) as error:
        raise CorruptImageError(f"the image cannot be decoded ({type(error).__name__})") from None
    return DecodedImage(
        rgb=rgb,
        format=kind,
        original_width=width,
        original_height=height,
        exif_orientation=orientation,
        scale=scale,
    )


def _exif_orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block must not make a good image unusable
        return 1
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else 1


def _to_rgb8(image: Image.Image) -> npt.NDArray[np.uint8]:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        pixels = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") else max(float(pixels.max()), 1.0)
        grey = np.clip(pixels / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.stack([grey] * 3, axis=-1))
    if mode == "P":
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb)


def encode_jpeg(rgb: npt.NDArray[np.uint8], *, quality: int = 92) -> bytes:
    """Re-encode pixels as a plain JPEG (no EXIF, GPS, ICC or trailing bytes)."""
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=quality)
    return out.getvalue()
