"""A deterministic engine for the tests of other layers: no models, instant, controllable.

Images are made with :func:`fake_face_image`: a small PNG whose first pixels encode who is in it
and how many faces it holds. The fake decodes through the real decoder, so malformed inputs fail
exactly as with the real engine; anything else that decodes but carries no code has no face.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from facematch.engine.images import DecodedImage, decode_image
from facematch.engine.types import Box, FaceAnalysis, MatchResult, Quality, Role
from facematch.errors import FaceError, FaceQualityError, ImageError, MultipleFacesError, NoFaceError

_MAGIC = (17, 99, 201)
_QUALITY_REASONS = ("FACE_TOO_SMALL", "FACE_BLURRED", "FACE_TOO_DARK")


def fake_face_image(
    identity: int, *, faces: int = 1, quality_issue: str | None = None, size: int = 64
) -> bytes:
    """A PNG the fake engine reads as ``faces`` faces of person ``identity`` (0..65535)."""
    pixels = np.full((size, size, 3), 128, dtype=np.uint8)
    pixels[0, 0] = _MAGIC
    pixels[0, 1] = (identity >> 8, identity & 0xFF, faces)
    issue = 0 if quality_issue is None else _QUALITY_REASONS.index(quality_issue) + 1
    pixels[0, 2] = (issue, 0, 0)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


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

    def analyze(self, image: bytes, role: Role) -> FaceAnalysis:
        return self.analyze_decoded(
            decode_image(image, max_bytes=self._max_bytes, max_pixels=self._max_pixels), role
        )

    def analyze_decoded(self, decoded: DecodedImage, role: Role) -> FaceAnalysis:
        rgb = decoded.rgb
        if rgb.shape[0] < 1 or rgb.shape[1] < 3 or tuple(int(v) for v in rgb[0, 0]) != _MAGIC:
            raise NoFaceError()
        hi, lo, faces = (int(v) for v in rgb[0, 1])
        if faces == 0:
            raise NoFaceError()
        if faces > 1 and role is Role.SELFIE:
            raise MultipleFacesError()
        issue = int(rgb[0, 2][0])
        reasons = (_QUALITY_REASONS[issue - 1],) if issue else ()
        if role is Role.REFERENCE and reasons == ("FACE_BLURRED",):
            reasons = ()  # like the real engine: a document's softness is compared, not refused
        if reasons:
            raise FaceQualityError(reasons=reasons)
        identity = (hi << 8) | lo
        template = np.random.default_rng(identity).standard_normal(128).astype(np.float32)
        template /= np.linalg.norm(template)
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
        for image, role in ((selfie, Role.SELFIE), (reference, Role.REFERENCE)):
            try:
                analyses.append(self.analyze(image, role))
            except (ImageError, FaceError) as error:
                error.role = role.value
                raise
        return self.compare_analyses(analyses[0], analyses[1])
