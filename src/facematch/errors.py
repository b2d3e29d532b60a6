"""The one exception tree of facematch. Nothing here knows about HTTP.

::

    FacematchError
    ├── ImageError                      an input image cannot be used as an image
    │   ├── EmptyImageError             zero bytes
    │   ├── ImageTooLargeError          byte or pixel cap exceeded (incl. decompression bombs)
    │   ├── UnsupportedImageFormatError not JPEG / PNG / WebP / HEIC
    │   ├── CorruptImageError           truncated, bit-flipped, undecodable
    │   ├── AnimatedImageError          more than one frame
    │   └── ImageTooSmallError          fewer pixels than any face could use
    ├── FaceError                       the image decodes but holds no usable subject face
    │   ├── NoFaceError                 no face found
    │   ├── MultipleFacesError          a selfie with a second face of comparable size
    │   └── FaceQualityError            a face was found but fails a quality gate (reasons attached)
    └── ModelError                      a model file is missing, altered, or cannot be loaded

Every class carries a stable UPPER_SNAKE ``code``; the API maps classes to HTTP and to the
OneKYC code/cause pairs in one table, the CLI prints ``code: message``.
Later layers add their own branches (authentication, submissions, ...) under ``FacematchError``.
"""

from __future__ import annotations


class FacematchError(Exception):
    """Root of every error facematch raises on purpose."""

    code: str = "FACEMATCH_ERROR"

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class ImageError(FacematchError):
    """The input cannot be used as an image."""

    code = "INVALID_IMAGE"
    #: which input failed ("selfie" / "reference"), set by whoever knows it
    role: str | None = None


class EmptyImageError(ImageError):
    """The image is empty (zero bytes)."""

    code = "EMPTY_IMAGE"


class ImageTooLargeError(ImageError):
    """The image exceeds the byte or pixel limit."""

    code = "IMAGE_TOO_LARGE"


class UnsupportedImageFormatError(ImageError):
    """The image format is not supported (JPEG, PNG, WebP and HEIC are)."""

    code = "UNSUPPORTED_IMAGE_FORMAT"


class CorruptImageError(ImageError):
    """The image is truncated or corrupt and cannot be decoded."""

    code = "CORRUPT_IMAGE"


class AnimatedImageError(ImageError):
    """The image has more than one frame; a single still image is required."""

    code = "ANIMATED_IMAGE"


class ImageTooSmallError(ImageError):
    """The image is too small to hold a usable face."""

    code = "IMAGE_TOO_SMALL"


class FaceError(FacematchError):
    """The image holds no usable subject face."""

    code = "FACE_ERROR"
    #: which input failed ("selfie" / "reference"), set by whoever knows it
    role: str | None = None


class NoFaceError(FaceError):
    """No face was found in the image."""

    code = "NO_FACE"


class MultipleFacesError(FaceError):
    """More than one face of comparable size was found; a selfie must show one person."""

    code = "MULTIPLE_FACES"


class FaceQualityError(FaceError):
    """A face was found but its quality is too low to compare reliably."""

    code = "FACE_QUALITY"

    def __init__(self, message: str = "", *, reasons: tuple[str, ...] = ()) -> None:
        super().__init__(message or f"face quality too low: {', '.join(reasons)}")
        self.reasons = reasons
        if reasons:
            self.code = reasons[0]


class ModelError(FacematchError):
    """A model file is missing, does not match its manifest, or cannot be loaded."""

    code = "MODEL_ERROR"
