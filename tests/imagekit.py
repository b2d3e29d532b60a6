"""Hand-made hostile image bytes shared by the engine, API and web tests."""

from __future__ import annotations

import struct
import zlib
from typing import Any


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (a decompression bomb's calling card)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


def decode_qr(image: bytes) -> str:
    """The text of the QR code in an encoded image, read as a phone camera would ("" if none).

    OpenCV's detector misses some codes at their drawn size; like a phone refocusing, try again
    at larger scales with a clean quiet zone and binarised before giving up.
    """
    import cv2
    import numpy as np

    grey = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        return ""
    detector = cv2.QRCodeDetector()
    _, binary = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    for base in (grey, binary):
        for scale in (1, 2, 3):
            candidate = cv2.resize(base, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
            candidate = cv2.copyMakeBorder(candidate, 24, 24, 24, 24, cv2.BORDER_CONSTANT, value=255)
            text, _, _ = detector.detectAndDecode(candidate)
            if text:
                return str(text)
    return ""


def _saved(image: Any, fmt: str, **options: Any) -> bytes:
    import io

    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _patched_jpeg_size(jpeg: bytes, width: int, height: int) -> bytes:
    """``jpeg`` with its frame header (SOF0/SOF2) claiming ``width`` x ``height``."""
    data = bytearray(jpeg)
    at = 2
    while at + 4 < len(data):
        marker, length = data[at + 1], struct.unpack(">H", data[at + 2 : at + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            data[at + 5 : at + 9] = struct.pack(">HH", height, width)
            return bytes(data)
        at += 2 + length
    raise ValueError("no frame header")


def _with_exif(jpeg: bytes, orientation: int | None, *, broken: bool = False) -> bytes:
    """``jpeg`` with an APP1 EXIF block after SOI: one orientation tag, or a broken block."""
    if broken:
        body = b"Exif\x00\x00MM\x00\x2a\x00\x00\xff\xf0" + b"\xff" * 40
    else:
        ifd = struct.pack(">HHHIHH", 1, 0x0112, 3, 1, orientation or 1, 0) + b"\x00\x00\x00\x00"
        body = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08" + ifd
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def hostile_corpus(face: bytes, *, mutants: int = 12, seed: int = 16) -> dict[str, bytes]:
    """The campaign's kinds of hostile images, made from one real photo (``face``, a JPEG), none
    stored: decompression bombs inside the caps, 16-bit and patched-dimension files, other formats
    under an image's name, animations, EXIF variants, polyglots and random mutants of the photo.
    Each is small on the wire; many would cost hundreds of megabytes if decoded carelessly."""
    import cv2
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(face, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    photo = Image.fromarray(rgb)
    small = _saved(photo.resize((640, 640 * photo.height // photo.width)), "JPEG", quality=85)
    ramp = np.tile(np.linspace(0, 65535, 4096, dtype=np.uint16), (4096, 1))
    ramp_rgb = np.ascontiguousarray(np.stack([ramp, ramp[::-1], ramp.T], axis=-1))
    corpus = {
        # bombs inside the caps: tiny files that decode to the largest images allowed
        "png_4096_flat": _saved(Image.new("RGB", (4096, 4096), (120, 90, 60)), "PNG", optimize=True),
        "png_4096_palette": _saved(Image.new("P", (4096, 4096), 3), "PNG", optimize=True),
        "webp_4096_lossless_flat": _saved(
            Image.new("RGB", (4096, 4096), (90, 90, 90)), "WEBP", lossless=True
        ),
        "jpeg_7000_flat": _saved(Image.new("RGB", (7000, 7000), (128, 128, 128)), "JPEG", quality=10),
        # 16 bits per sample
        "png16_grey_4096": bytes(cv2.imencode(".png", ramp, [cv2.IMWRITE_PNG_COMPRESSION, 9])[1]),
        "png16_rgb_4096": bytes(cv2.imencode(".png", ramp_rgb, [cv2.IMWRITE_PNG_COMPRESSION, 9])[1]),
        "png16_rgba_4096": bytes(
            cv2.imencode(
                ".png", np.full((4096, 4096, 4), 40000, np.uint16), [cv2.IMWRITE_PNG_COMPRESSION, 9]
            )[1]
        ),
        # a real photo's JPEG whose frame header claims a far larger image
        "jpeg_patched_7000x7000": _patched_jpeg_size(small, 7000, 7000),
        "jpeg_patched_8000x6000": _patched_jpeg_size(small, 8000, 6000),
        "jpeg_patched_4096x4096_progressive": _patched_jpeg_size(
            _saved(Image.open(__import__("io").BytesIO(small)), "JPEG", progressive=True), 4096, 4096
        ),
        # other formats under an image's name
        "gif_as_jpg": _saved(Image.new("P", (2048, 2048), 1), "GIF"),
        "tiff_as_jpg": _saved(Image.new("RGB", (2048, 2048), (1, 2, 3)), "TIFF", compression="tiff_deflate"),
        "bmp_as_jpg": _saved(Image.new("RGB", (512, 512)), "BMP"),
        # animations
        "apng_2_frames": _saved(
            Image.new("RGB", (2048, 2048), (0, 0, 0)),
            "PNG",
            save_all=True,
            append_images=[Image.new("RGB", (2048, 2048), (255, 255, 255))],
        ),
        "webp_animated": _saved(
            Image.new("RGB", (2048, 2048)),
            "WEBP",
            save_all=True,
            append_images=[Image.new("RGB", (2048, 2048))],
        ),
        # EXIF: every orientation, and a broken block
        **{f"jpeg_exif_orientation_{n}": _with_exif(small, n) for n in range(1, 9)},
        "jpeg_exif_broken": _with_exif(small, None, broken=True),
        # polyglots: an image with something else behind it
        "jpeg_html_polyglot": face + b"<html><script>alert(1)</script></html>",
        "png_zip_polyglot": _saved(photo.resize((320, 320)), "PNG") + b"PK\x03\x04" + bytes(rng.bytes(4096)),
        "jpeg_truncated": face[: len(face) // 2],
    }
    for n in range(mutants):  # random mutants of the photo: bytes flipped past its headers
        mutant = bytearray(small)
        for at in rng.integers(600, len(mutant), size=int(rng.integers(1, 40))):
            mutant[int(at)] = int(rng.integers(0, 256))
        corpus[f"jpeg_mutant_{n}"] = bytes(mutant)
    return corpus
