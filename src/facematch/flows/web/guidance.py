"""Live capture guidance: what the H5 app tells the user while they frame their selfie.

The app sends a downscaled preview frame a few times a second; :func:`guide` runs the real engine on
it and turns the outcome into one hint. The engine's own gates (one face, size, blur, light, pose)
come first; then the face must sit inside the on-screen oval, which the app draws over a 3:4 centre
crop of the camera image (``OVAL_*`` below mirror ``web/static/index.html``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from facematch.engine.images import DecodedImage
from facematch.engine.types import Engine, FaceCheck, ImageRole
from facematch.errors import FaceQualityError, MultipleFacesError, NoFaceError

# The visible area is a 3:4 (portrait) centre crop of the frame; the oval's centre and radii are
# fractions of that area (index.html: viewBox 300x400, ellipse cx=150 cy=190 rx=95 ry=128).
VIEW_ASPECT = 3 / 4
OVAL_CX, OVAL_CY = 0.5, 0.475
OVAL_RX, OVAL_RY = 95 / 300, 128 / 400
# Face box width as a fraction of the visible width: below → closer, above → further.
MIN_FACE_WIDTH = 0.28
MAX_FACE_WIDTH = 0.85
# How far the face centre may sit from the oval centre, as a fraction of the oval's radii.
MAX_OFFSET = 0.55


class Hint(StrEnum):
    """One instruction for the user; the app has a sentence for each in every locale."""

    READY = "READY"
    NO_FACE = "NO_FACE"
    MULTIPLE_FACES = "MULTIPLE_FACES"
    MOVE_CLOSER = "MOVE_CLOSER"
    MOVE_BACK = "MOVE_BACK"
    CENTER_FACE = "CENTER_FACE"
    MORE_LIGHT = "MORE_LIGHT"
    LESS_LIGHT = "LESS_LIGHT"
    HOLD_STILL = "HOLD_STILL"
    LOOK_STRAIGHT = "LOOK_STRAIGHT"
    ADJUST = "ADJUST"
    BUSY = "BUSY"
    """No check this time (the server is at its preview limit); the app keeps its last hint."""


_REASON_HINTS: dict[str, Hint] = {
    "FACE_TOO_SMALL": Hint.MOVE_CLOSER,
    "FACE_BLURRED": Hint.HOLD_STILL,
    "FACE_TOO_DARK": Hint.MORE_LIGHT,
    "FACE_LOW_CONTRAST": Hint.MORE_LIGHT,
    "FACE_TOO_BRIGHT": Hint.LESS_LIGHT,
    "FACE_NOT_FRONTAL": Hint.LOOK_STRAIGHT,
    "FACE_LOW_CONFIDENCE": Hint.ADJUST,
}


@dataclass(frozen=True, slots=True)
class Guidance:
    """The hint for one frame; ``ready`` when a photo taken now should be accepted."""

    hint: Hint

    @property
    def ready(self) -> bool:
        return self.hint is Hint.READY


def hint_for_reasons(reasons: tuple[str, ...]) -> Hint:
    """The hint for the first quality reason the app has words for."""
    for reason in reasons:
        if reason in _REASON_HINTS:
            return _REASON_HINTS[reason]
    return Hint.ADJUST


def placement_hint(face: FaceCheck) -> Hint:
    """READY when the face fills the oval, else which way to move."""
    width, height = face.image_width, face.image_height
    if width / height > VIEW_ASPECT:  # landscape frame: the sides are cropped away
        view_w, view_h = height * VIEW_ASPECT, float(height)
    else:
        view_w, view_h = float(width), width / VIEW_ASPECT
    left, top = (width - view_w) / 2, (height - view_h) / 2
    box = face.box
    if box.width / view_w < MIN_FACE_WIDTH:
        return Hint.MOVE_CLOSER
    if box.width / view_w > MAX_FACE_WIDTH:
        return Hint.MOVE_BACK
    cx = (box.x + box.width / 2 - left) / view_w
    cy = (box.y + box.height / 2 - top) / view_h
    dx, dy = (cx - OVAL_CX) / OVAL_RX, (cy - OVAL_CY) / OVAL_RY
    if dx * dx + dy * dy > MAX_OFFSET * MAX_OFFSET:
        return Hint.CENTER_FACE
    return Hint.READY


def guide(engine: Engine, frame: bytes | DecodedImage, *, placement: bool = True) -> Guidance:
    """Run the engine on one camera frame (its bytes, or its decoded pixels) and say what the user
    should do.

    ``placement=False`` checks only the engine's gates (used on the full-size capture, whose framing
    the preview already checked). Raises an ImageError subclass when ``frame`` is not an image.
    """
    try:
        # the frame is judged, never compared: no template (detection and quality only)
        face = engine.inspect(frame, ImageRole.SELFIE)
    except NoFaceError:
        return Guidance(Hint.NO_FACE)
    except MultipleFacesError:
        return Guidance(Hint.MULTIPLE_FACES)
    except FaceQualityError as error:
        return Guidance(hint_for_reasons(error.reasons))
    if not face.quality.ok:
        return Guidance(hint_for_reasons(face.quality.reasons))
    return Guidance(placement_hint(face) if placement else Hint.READY)
