"""Document-style derivatives of a face photo, for benchmarks and tests (bench/ is on the tests' import path).

Real references are rarely clean photos: a KTP portrait is ~24-40 px wide, grey or tinted,
JPEG-crushed and re-photographed; passport scans are cropped to the face with no margin; phone
photos arrive sideways or with an EXIF orientation. These functions make such images from a
clean photo and the box of its face, deterministically (seeded).
"""

from __future__ import annotations

import io

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from facematch.engine.types import Box

RGB = npt.NDArray[np.uint8]

#: inverse of each EXIF orientation: the pixel transform that, once the viewer applies the
#: orientation, shows the original upright image
_EXIF_STORE = {
    1: (),
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_90,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_270,),
}


def encode(rgb: RGB, *, fmt: str = "JPEG", quality: int = 92, exif_orientation: int | None = None) -> bytes:
    """Encode pixels; optionally tag an EXIF orientation (pixels are stored as given)."""
    image = Image.fromarray(rgb)
    out = io.BytesIO()
    kwargs: dict[str, object] = {"quality": quality} if fmt == "JPEG" else {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif.tobytes()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def exif_rotated(rgb: RGB, orientation: int) -> bytes:
    """A JPEG whose stored pixels are turned so that EXIF ``orientation`` shows ``rgb`` upright."""
    image = Image.fromarray(rgb)
    for step in _EXIF_STORE[orientation]:
        image = image.transpose(step)
    return encode(np.asarray(image), exif_orientation=orientation)


def rotated(rgb: RGB, degrees: int) -> RGB:
    """Pixels turned clockwise by 90, 180 or 270 degrees (no EXIF)."""
    k = {90: 3, 180: 2, 270: 1}[degrees]
    return np.ascontiguousarray(np.rot90(rgb, k))


def grey(rgb: RGB) -> RGB:
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(np.stack([g] * 3, axis=-1))


def low_contrast(rgb: RGB, *, gain: float = 0.6, lift: float = 45.0) -> RGB:
    """Flattened tones, as in a faded print or a flat-lit phone photo: ``lift + gain * value``."""
    return np.ascontiguousarray((lift + rgb.astype(np.float32) * gain).clip(0, 255).astype(np.uint8))


def grey_selfie(rgb: RGB, size: tuple[int, int] = (480, 640)) -> RGB:
    """A grey, low-contrast, low-detail phone selfie of ``size`` (width, height) made from a
    small photo: upscaled to cover the frame (so it holds no more detail than the source),
    centre-cropped, grey, tones flattened."""
    h, w = rgb.shape[:2]
    scale = max(size[0] / w, size[1] / h)
    big = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
    y0, x0 = (big.shape[0] - size[1]) // 2, (big.shape[1] - size[0]) // 2
    return low_contrast(grey(np.ascontiguousarray(big[y0 : y0 + size[1], x0 : x0 + size[0]])))


def jpeg_crushed(rgb: RGB, quality: int = 30) -> bytes:
    return encode(rgb, quality=quality)


def _window(rgb: RGB, cx: float, cy: float, width: float, height: float) -> RGB:
    """A crop centred on (cx, cy), padded by edge replication where it leaves the image."""
    x0, y0 = round(cx - width / 2), round(cy - height / 2)
    x1, y1 = x0 + round(width), y0 + round(height)
    h, w = rgb.shape[:2]
    pad = max(0, -x0, -y0, x1 - w, y1 - h)
    if pad:
        rgb = np.asarray(cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE), dtype=np.uint8)
        x0, y0, x1, y1 = x0 + pad, y0 + pad, x1 + pad, y1 + pad
    return np.ascontiguousarray(rgb[y0:y1, x0:x1])


def tight_crop(rgb: RGB, box: Box, size: tuple[int, int] = (92, 112)) -> RGB:
    """The face box alone, no margin, resized to ``size`` (width, height) like a passport chip crop."""
    cx, cy = box.x + box.width / 2, box.y + box.height / 2
    aspect = size[1] / size[0]
    width = box.width * 0.95
    crop = _window(rgb, cx, cy, width, width * aspect)
    return np.ascontiguousarray(cv2.resize(crop, size, interpolation=cv2.INTER_AREA))


def small_face(rgb: RGB, box: Box, face_px: int) -> RGB:
    """The whole photo scaled so that the face box is ``face_px`` wide."""
    scale = face_px / max(box.width, 1.0)
    h, w = rgb.shape[:2]
    size = (max(16, round(w * scale)), max(16, round(h * scale)))
    return np.ascontiguousarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))


def id_card(
    rgb: RGB,
    box: Box,
    face_px: int,
    *,
    seed: int = 0,
    ghost: bool = True,
    colour: bool = False,
    print_quality: int = 30,
    photo_quality: int = 75,
) -> bytes:
    """A re-photographed ID card whose portrait shows the face ``face_px`` wide.

    Head-and-shoulders portrait (grey unless ``colour``) with print contrast loss, on a tinted
    card with text-like lines and a faint small "ghost" copy of the portrait, JPEG-crushed at
    ``print_quality``, then photographed again (slight blur and sensor noise) and saved as a JPEG
    at ``photo_quality``.
    """
    rng = np.random.default_rng(seed)
    cx, cy = box.x + box.width / 2, box.y + box.height * 0.55
    portrait = _window(rgb, cx, cy, box.width * 1.9, box.width * 2.4)
    scale = face_px / max(box.width, 1.0)
    pw, ph = max(8, round(portrait.shape[1] * scale)), max(8, round(portrait.shape[0] * scale))
    portrait = np.asarray(cv2.resize(portrait, (pw, ph), interpolation=cv2.INTER_AREA), dtype=np.uint8)
    if colour:
        printed_tones = portrait.astype(np.float32)
    else:
        g = cv2.cvtColor(portrait, cv2.COLOR_RGB2GRAY).astype(np.float32)
        printed_tones = np.stack([g] * 3, axis=-1)
    portrait = (40 + printed_tones * 0.75).clip(0, 255).astype(np.uint8)  # printed: lifted blacks
    card_h = round(ph / 0.62)
    card_w = round(card_h * 1.586)
    tint = np.array([190, 215, 235]) + rng.integers(-15, 15, size=3)
    card = np.empty((card_h, card_w, 3), dtype=np.uint8)
    card[:] = tint.clip(0, 255)
    for i in range(8):  # text-like lines on the left
        y = round(card_h * (0.12 + i * 0.1))
        x1 = round(card_w * rng.uniform(0.35, 0.6))
        cv2.line(card, (round(card_w * 0.05), y), (x1, y), (60, 60, 70), max(1, card_h // 60))
    px, py = card_w - pw - round(card_w * 0.06), round((card_h - ph) * 0.55)
    card[py : py + ph, px : px + pw] = portrait
    if ghost:
        gw, gh = max(8, pw * 2 // 5), max(8, ph * 2 // 5)
        faint = cv2.resize(portrait, (gw, gh), interpolation=cv2.INTER_AREA).astype(np.float32)
        gx, gy = round(card_w * 0.45), card_h - gh - round(card_h * 0.08)
        region = card[gy : gy + gh, gx : gx + gw].astype(np.float32)
        card[gy : gy + gh, gx : gx + gw] = (region * 0.7 + faint * 0.3).astype(np.uint8)
    printed = np.asarray(
        Image.open(io.BytesIO(encode(card, quality=print_quality))).convert("RGB"), dtype=np.uint8
    )
    # the photo of the card: a margin of table around it, slight blur, noise
    margin = round(card_h * 0.15)
    photo = cv2.copyMakeBorder(
        printed, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=(96, 80, 64)
    )
    photo = cv2.GaussianBlur(photo, (0, 0), 0.6)
    noisy = photo.astype(np.float32) + rng.normal(0, 3.0, photo.shape)
    return encode(noisy.clip(0, 255).astype(np.uint8), quality=photo_quality)
