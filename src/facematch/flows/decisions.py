"""Result rules and the next action: one place decides what an attempt means.

* match → ``COMPLETED``/``VALID``, reasonCode ``""``; below threshold → ``INVALID``/``FACE_MATCH_FAILED``
* selfie unusable (no face, several faces, quality, not an image) → ``INVALID``/``INVALID_DOCUMENT``
* reference missing or not fetchable → ``INVALID``/``DOCUMENT_NOT_FOUND`` (with the failure kind)
* reference without a usable face → ``INVALID``/``REFERENCE_IMAGE_VALIDATION_FAILED``
* anything unexpected → ``ERROR``/``VERIFICATION_FAILED``
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from facematch.engine.types import MatchResult
from facematch.errors import FaceError, ImageError, ServiceUnavailableError


class NextAction(StrEnum):
    RETRY = "RETRY"
    """The user can fix this (selfie quality, no/several faces, no match) and attempts remain."""
    STATUS = "STATUS"
    """Final; the partner shows our status screen."""
    EXIT = "EXIT"
    """Final; the partner hides the status screen: go straight back to the partner."""


class PartnerRules(Protocol):
    """The partner settings the next action depends on."""

    @property
    def max_attempts(self) -> int: ...

    @property
    def show_status_screen(self) -> bool: ...


#: Outcomes a user can fix by taking another selfie.
RETRYABLE_REASONS = frozenset({"FACE_MATCH_FAILED", "INVALID_DOCUMENT"})


@dataclass(frozen=True, slots=True)
class Decision:
    """What one attempt came to, ready to store."""

    status: str
    result: str | None
    reason_code: str
    details: dict[str, Any] = field(default_factory=dict)
    score: float | None = None
    error_message: str | None = None


def matched(match: MatchResult) -> Decision:
    return compared(
        match.score,
        match.match,
        match.model_version,
        match.threshold,
        match.far_at_threshold,
        band=match.band,
    )


def compared(
    score: float, match: bool, version: str, threshold: float, far: float, *, band: str | None = None
) -> Decision:
    """The decision of a comparison: VALID, or INVALID/FACE_MATCH_FAILED, with its faceMatch block."""
    face_match: dict[str, object] = {
        "score": score,
        "result": match,
        "version": version,
        "threshold": threshold,
        "far": far,
    }
    if band is not None:
        # facematch's extension: the calibration band (by the poorer face's size) whose threshold
        # and false-accept rate apply to this pair
        face_match["calibrationBand"] = band
    details = {
        "verificationResults": {
            "faceMatch": face_match,
            "referenceImageValidation": {"ktp": {"verificationResult": True, "verificationReasonCode": ""}},
        }
    }
    if match:
        return Decision("COMPLETED", "VALID", "", details, score=score)
    return Decision("COMPLETED", "INVALID", "FACE_MATCH_FAILED", details, score=score)


def selfie_unusable(error: ImageError | FaceError) -> Decision:
    details = {"selfieValidation": {"verificationResult": False, "verificationReasonCode": error.code}}
    return Decision("COMPLETED", "INVALID", "INVALID_DOCUMENT", details, error_message=error.message)


def reference_missing(kind: str) -> Decision:
    """The reference could not be had: not uploaded and no URL, or the fetch failed (``kind``)."""
    details = {"referenceImage": {"found": False, "failureKind": kind}}
    return Decision(
        "COMPLETED", "INVALID", "DOCUMENT_NOT_FOUND", details, error_message="reference image not found"
    )


def reference_unusable(error: ImageError | FaceError) -> Decision:
    details = {
        "verificationResults": {
            "referenceImageValidation": {
                "ktp": {"verificationResult": False, "verificationReasonCode": error.code}
            }
        }
    }
    return Decision(
        "COMPLETED", "INVALID", "REFERENCE_IMAGE_VALIDATION_FAILED", details, error_message=error.message
    )


def unexpected_failure(message: str = "verification failed") -> Decision:
    return Decision("ERROR", None, "VERIFICATION_FAILED", {}, error_message=message)


def failed_every_try(error: Exception) -> Decision:
    """The decision of a job whose every try raised: a service that stayed unavailable (e.g. the image
    store) says so, in its message written for partners; anything else stays unexplained."""
    if isinstance(error, ServiceUnavailableError):
        return unexpected_failure(f"{error.message}; gave up after retrying")
    return unexpected_failure()


def next_action(
    *,
    status: str,
    reason_code: str | None,
    interactive: bool,
    attempts_used: int,
    max_attempts: int,
    show_status_screen: bool,
) -> NextAction:
    """What the user should see after an attempt. Only sessions with a user in the loop (Initiate
    Flow) retry; a backend-to-backend attempt is always final."""
    if (
        interactive
        and status == "COMPLETED"
        and reason_code in RETRYABLE_REASONS
        and attempts_used < max_attempts
    ):
        return NextAction.RETRY
    return NextAction.STATUS if show_status_screen else NextAction.EXIT


def next_action_for(
    status: str, reason_code: str | None, *, interactive: bool, attempts_used: int, partner: PartnerRules
) -> NextAction:
    """:func:`next_action` with the partner's attempt limit and status-screen choice."""
    return next_action(
        status=status,
        reason_code=reason_code,
        interactive=interactive,
        attempts_used=attempts_used,
        max_attempts=partner.max_attempts,
        show_status_screen=partner.show_status_screen,
    )
