"""A deterministic engine for the tests of other layers: no models, instant, controllable.

Images are made with :func:`fake_face_image`: a small image whose first rows of 8x8 grey blocks
encode who is in it, how many faces it holds and, for liveness frames, the head's pose (in a form
that survives JPEG re-encoding, as stored derivatives and browser frames are). The fake decodes through the
real decoder, so malformed inputs fail exactly as with the real engine; anything else that
decodes but carries no code has no face. :func:`head_landmarks` projects a five-point head (or a
flat print of one) and serves the liveness tests too.
"""

from __future__ import annotations

import io
import math

import numpy as np
import numpy.typing as npt
from PIL import Image

from facematch.engine.images import DecodedImage, decode_image
from facematch.engine.liveness import pose
from facematch.engine.types import (
    Box,
    FaceAnalysis,
    FaceCheck,
    FrameObservation,
    ImageRole,
    MatchResult,
    Quality,
)
from facematch.errors import FaceError, FaceQualityError, ImageError, MultipleFacesError, NoFaceError

_QUALITY_REASONS = ("FACE_TOO_SMALL", "FACE_BLURRED", "FACE_TOO_DARK")
#: a head in eye distances: x to the image's right, y down, z towards the camera; the nose tip
#: stands half an eye distance in front of the eyes, the mouth corners a little
HEAD = np.array([[-0.5, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.6, 0.5], [-0.4, 1.15, 0.15], [0.4, 1.15, 0.15]])


def head_landmarks(
    yaw_deg: float = 0.0,
    *,
    eye_px: float = 40.0,
    centre: tuple[float, float] = (160.0, 120.0),
    flat: bool = False,
) -> tuple[tuple[float, float], ...]:
    """The five landmarks of a head turned ``yaw_deg`` to the subject's left (negative: right),
    ``eye_px`` between the eyes when frontal, seen from afar (orthographic).

    ``flat``: a frontal print of that head instead, slanted (a 2D shear) so that its nose sits
    where the turned head's would, as far as the yaw estimate can tell: a print moved to fake
    the turn, with no depth.
    """
    turn = math.radians(yaw_deg)
    if flat:
        points = HEAD.copy()
        points[:, 2] = 0.0
        shear = 0.5 * math.tan(turn) / HEAD[2, 1]
        xy = np.stack([points[:, 0] + shear * points[:, 1], points[:, 1]], axis=1)
    else:
        rotation = np.array(
            [[math.cos(turn), 0.0, math.sin(turn)], [0.0, 1.0, 0.0], [-math.sin(turn), 0.0, math.cos(turn)]]
        )
        xy = (HEAD @ rotation.T)[:, :2]
    xy = xy * eye_px + np.array(centre)
    return tuple((float(x), float(y)) for x, y in xy)


#: the code sits in 8x8 blocks of one grey level (JPEG's own blocks, luminance only), each block one
#: hex digit at the middle of its sixteenth of the grey scale: re-encoding, even as a JPEG of modest
#: quality, moves a block's level by far less than half a step
_BLOCK = 8
_MAGIC_DIGITS = (3, 12)


def _digits(value: int, count: int) -> list[int]:
    return [(value >> (4 * (count - 1 - i))) & 0xF for i in range(count)]


def _number(digits: list[int]) -> int:
    value = 0
    for digit in digits:
        value = (value << 4) | digit
    return value


def fake_face_image(
    identity: int,
    *,
    faces: int = 1,
    quality_issue: str | None = None,
    size: int = 64,
    yaw_deg: int = 0,
    scale: float = 1.0,
    flat: bool = False,
    fmt: str = "PNG",
) -> bytes:
    """An image (PNG, or ``fmt``: any format Pillow writes, e.g. JPEG) the fake engine reads as
    ``faces`` faces (0..15) of person ``identity`` (0..65535).

    ``yaw_deg`` (-90..90), ``scale`` (0.02..5, the face's size) and ``flat`` set what
    :meth:`FakeEngine.observe` sees: :func:`head_landmarks` of that pose.
    """
    issue = 0 if quality_issue is None else _QUALITY_REASONS.index(quality_issue) + 1
    digits = [
        *_MAGIC_DIGITS,
        *_digits(identity, 4),
        faces,
        issue,
        *_digits(yaw_deg + 90, 2),
        *_digits(round(scale * 50), 2),
        int(flat),
    ]
    pixels = np.full((max(size, 2 * _BLOCK), max(size, 8 * _BLOCK), 3), 128, dtype=np.uint8)
    for index, digit in enumerate(digits):
        row, column = divmod(index, 8)
        level = digit * 16 + 8
        pixels[row * _BLOCK : (row + 1) * _BLOCK, column * _BLOCK : (column + 1) * _BLOCK] = level
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format=fmt)
    return out.getvalue()


def _read_code(rgb: npt.NDArray[np.uint8]) -> list[int] | None:
    """The digits of a fake face image (None: not one)."""
    if rgb.shape[0] < 2 * _BLOCK or rgb.shape[1] < 8 * _BLOCK:
        return None
    digits = []
    for index in range(13):
        row, column = divmod(index, 8)
        middle = rgb[row * _BLOCK + 2 : row * _BLOCK + 6, column * _BLOCK + 2 : column * _BLOCK + 6]
        level = float(middle.mean())
        digit = round((level - 8) / 16)
        if not 0 <= digit < 16 or abs(level - (digit * 16 + 8)) > 6:
            return None
        digits.append(digit)
    return digits if tuple(digits[:2]) == _MAGIC_DIGITS else None


def _template(identity: int) -> npt.NDArray[np.float32]:
    template = np.random.default_rng(identity).standard_normal(128).astype(np.float32)
    normalised: npt.NDArray[np.float32] = template / np.linalg.norm(template)
    return normalised


class FakeEngine:
    """Same person → similarity 0.9, different people → 0.1; threshold 0.5."""

    threshold = 0.5

    def __init__(
        self, *, max_image_bytes: int = 15 * 1024 * 1024, max_image_pixels: int = 50_000_000
    ) -> None:
        self._max_bytes = max_image_bytes
        self._max_pixels = max_image_pixels

    @property
    def model_version(self) -> str:
        return "fake-1"

    def analyze(self, image: bytes, role: ImageRole) -> FaceAnalysis:
        return self.analyze_decoded(
            decode_image(image, max_bytes=self._max_bytes, max_pixels=self._max_pixels), role
        )

    def analyze_decoded(self, decoded: DecodedImage, role: ImageRole) -> FaceAnalysis:
        rgb = decoded.rgb
        code = _read_code(rgb)
        if code is None:
            raise NoFaceError()
        identity, faces, issue = _number(code[2:6]), code[6], code[7]
        if faces == 0:
            raise NoFaceError()
        if faces > 1 and role is ImageRole.SELFIE:
            raise MultipleFacesError()
        reasons = (_QUALITY_REASONS[issue - 1],) if issue else ()
        if role is ImageRole.REFERENCE and reasons == ("FACE_BLURRED",):
            reasons = ()  # like the real engine: a document's softness is compared, not refused
        if reasons:
            raise FaceQualityError(reasons=reasons)
        template = _template(identity)
        h, w = rgb.shape[:2]
        return FaceAnalysis(
            role=role,
            box=Box(w * 0.25, h * 0.25, w * 0.5, h * 0.5),
            landmarks=(
                (w * 0.4, h * 0.4),
                (w * 0.6, h * 0.4),
                (w * 0.5, h * 0.5),
                (w * 0.42, h * 0.6),
                (w * 0.58, h * 0.6),
            ),
            quality=Quality(
                interocular_px=w * 0.2,
                sharpness=100.0,
                brightness=0.5,
                contrast=0.2,
                yaw=0.0,
                roll=0.0,
                detector_score=0.99,
            ),
            rotation=0,
            faces_found=faces,
            image_width=w,
            image_height=h,
            template=template,
        )

    def inspect(self, image: bytes | DecodedImage, role: ImageRole) -> FaceCheck:
        decoded = (
            image
            if isinstance(image, DecodedImage)
            else decode_image(image, max_bytes=self._max_bytes, max_pixels=self._max_pixels)
        )
        analysis = self.analyze_decoded(decoded, role)
        return FaceCheck(
            role=role,
            box=analysis.box,
            quality=analysis.quality,
            rotation=analysis.rotation,
            faces_found=analysis.faces_found,
            image_width=analysis.image_width,
            image_height=analysis.image_height,
        )

    def observe(self, decoded: DecodedImage) -> FrameObservation:
        rgb = decoded.rgb
        h, w = rgb.shape[:2]
        code = _read_code(rgb)
        if code is None or code[6] == 0:
            return FrameObservation(face_count=0, frame_width=w, frame_height=h)
        identity, faces = _number(code[2:6]), code[6]
        yaw_code, scale_code, flat = _number(code[8:10]), _number(code[10:12]), code[12]
        eye_px = w * 0.2 * scale_code / 50
        marks = head_landmarks(yaw_code - 90, eye_px=eye_px, centre=(w / 2, h * 0.4), flat=bool(flat))
        array = pose.as_landmarks(marks)
        return FrameObservation(
            face_count=faces,
            frame_width=w,
            frame_height=h,
            box=Box(w / 2 - eye_px, h * 0.4 - eye_px, 2 * eye_px, 2.4 * eye_px),
            landmarks=marks,
            yaw=pose.yaw(array),
            size=pose.face_size(array, w),
            detector_score=0.99,
            template=_template(identity),
        )

    def threshold_at(self, far: float) -> float:
        return self.threshold

    def compare_analyses(self, selfie: FaceAnalysis, reference: FaceAnalysis) -> MatchResult:
        same = bool(np.allclose(selfie.template, reference.template))
        similarity = 0.9 if same else 0.1
        return MatchResult(
            score=similarity,
            similarity=similarity,
            threshold=self.threshold,
            match=similarity >= self.threshold,
            far_at_threshold=1e-3,
            target_far=1e-3,
            model_version=self.model_version,
            selfie=selfie,
            reference=reference,
        )

    def compare(self, selfie: bytes, reference: bytes) -> MatchResult:
        analyses = []
        for image, role in ((selfie, ImageRole.SELFIE), (reference, ImageRole.REFERENCE)):
            try:
                analyses.append(self.analyze(image, role))
            except (ImageError, FaceError) as error:
                error.role = role.value
                raise
        return self.compare_analyses(analyses[0], analyses[1])
