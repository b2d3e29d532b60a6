"""Safe image decoding: caps before pixels, one typed error for every decoder failure.

Pipeline: byte cap → magic-byte allowlist (JPEG, PNG, WebP, HEIC; AVIF is not one) →
``Image.open`` restricted to those formats with Pillow's bomb warning turned into an error → our
pixel caps checked before any pixel is decoded → single frame only → large JPEGs decoded at
reduced size (draft mode) → EXIF orientation applied → 8-bit RGB (16-bit, alpha, palette and
greyscale handled) → other large images reduced to the size a JPEG would have been decoded at.

The cost of an image is bounded before it is paid: a JPEG's decode cost follows its reduced size,
so JPEGs may declare up to ``max_pixels``; PNG, WebP and HEIC are decoded at full size, so they
get the smaller ``max_full_decode_pixels`` budget (a 1.9 KB lossless WebP or a 48 KB PNG can
declare 7000×7000; they are refused before decoding).
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

import cv2
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
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
#: HEIF brands that only say "an image file": the compatible brands then tell HEIC from AVIF
_GENERIC_HEIF_BRANDS = {b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
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
        if data[8:12] in _GENERIC_HEIF_BRANDS and _is_avif(data):
            return None
        return "heic"
    return None


def _is_avif(data: bytes) -> bool:
    """Whether an ``ftyp`` box with a generic brand lists AVIF and no HEVC brand as compatible."""
    size = int.from_bytes(data[0:4], "big")
    brands = {data[i : i + 4] for i in range(16, min(size, len(data), 256) - 3, 4)}
    return bool(brands & _AVIF_BRANDS) and not brands & (_HEIF_BRANDS - _GENERIC_HEIF_BRANDS)


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
    max_full_decode_pixels: int = 4096 * 4096,
    draft_side: int | None = 1600,
) -> DecodedImage:
    """Decode ``data`` into an upright RGB array, or raise an :class:`~facematch.errors.ImageError`.

    ``max_pixels`` caps what any image may declare; ``max_full_decode_pixels`` caps the formats
    that cannot be decoded at a reduced size (all but JPEG). ``draft_side``: a JPEG whose longer
    side is at least twice this is decoded at the smallest power-of-two reduction that keeps its
    longer side at least ``draft_side`` (None: full size), so a 12 MP selfie costs a quarter of its
    pixels; other images that large are reduced by the same factor once decoded.
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
            if kind != "jpeg" and width * height > max_full_decode_pixels:
                raise ImageTooLargeError(
                    f"{kind.upper()} image is {width}x{height} pixels; the limit for images that are "
                    f"decoded at full size is {max_full_decode_pixels} (JPEG allows {max_pixels})"
                )
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
            # exif_transpose copies the pixels even when there is nothing to turn
            upright = image if orientation == 1 else ImageOps.exif_transpose(image) or image
            rgb = _to_rgb8(upright)
            if kind != "jpeg" and draft_side is not None:
                rgb, scale = _reduced(rgb, draft_side)
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


def _reduced(rgb: npt.NDArray[np.uint8], draft_side: int) -> tuple[npt.NDArray[np.uint8], float]:
    """``rgb`` reduced as JPEG draft mode would have decoded it: by the largest power of two that
    keeps the longer side at least ``draft_side``."""
    longest = max(rgb.shape[:2])
    factor = 1
    while longest // (factor * 2) >= draft_side:
        factor *= 2
    if factor == 1:
        return rgb, 1.0
    h, w = rgb.shape[:2]
    size = (max(1, w // factor), max(1, h // factor))
    reduced = np.ascontiguousarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    return reduced, size[0] / w


def _exif_orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block must not make a good image unusable
        return 1
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else 1


def _to_rgb8(image: Image.Image) -> npt.NDArray[np.uint8]:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # in float32, in place: a 4096x4096 16-bit image never needs more than one 64 MB buffer
        # beside its pixels (float64 and a copy per step made that 400 MB per analysis thread)
        pixels = np.asarray(image).astype(np.float32)
        top = 65535.0 if mode.startswith("I;16") else max(float(pixels.max()), 1.0)
        pixels *= 255.0 / top
        pixels += 0.5
        np.clip(pixels, 0, 255, out=pixels)
        grey = pixels.astype(np.uint8)
        del pixels
        rgb = np.empty((*grey.shape, 3), dtype=np.uint8)
        rgb[...] = grey[:, :, None]
        return rgb
    if mode == "P":
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if mode != "RGB":  # convert() copies the pixels even when they are RGB already
        image = image.convert("RGB")
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def encode_jpeg(rgb: npt.NDArray[np.uint8], *, quality: int = 92) -> bytes:
    """Re-encode pixels as a plain JPEG (no EXIF, GPS, ICC or trailing bytes)."""
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=quality)
    return out.getvalue()
