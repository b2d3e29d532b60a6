"""Hand-made hostile image bytes shared by the engine, API and web tests."""

from __future__ import annotations

import struct
import zlib


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
