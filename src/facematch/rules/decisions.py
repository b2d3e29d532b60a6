"""Result rules and the next action: one place decides what an attempt means.

* match → ``COMPLETED``/``VALID``, reasonCode ``""``; below threshold → ``INVALID``/``FACE_MATCH_FAILED``
* selfie unusable (no face, several faces, quality, not an image) → ``INVALID``/``INVALID_DOCUMENT``
* reference missing or not fetchable → ``INVALID``/``DOCUMENT_NOT_FOUND`` (with the failure kind)
* reference without a usable face → ``INVALID``/``REFERENCE_IMAGE_VALIDATION_FAILED``
* a session that asks for liveness: a failed head-move challenge → ``INVALID``/``NOT_LIVE`` (judged
  after the selfie's own gates, before the reference; no face match is run), and every other
  decision of such an attempt carries the challenge's verdict (``verificationResults.liveness``)
* anything unexpected → ``ERROR``/``VERIFICATION_FAILED``

A final ``FACE_MATCH_FAILED`` whose similarity falls in the partner's review band is held
(``IN_REVIEW``, see :mod:`facematch.rules.review_band`) until a person or its deadline decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from facematch.engine.liveness import Verdict
from facematch.engine.types import FaceAnalysis, MatchResult
from facematch.errors import FaceError, ImageError, ServiceUnavailableError
from facematch.rules.states import (
    RETRYABLE_REASONS,
    DecidedBy,
    NextAction,
    ReasonCode,
    Result,
    SubmissionStatus,
)


class PartnerRules(Protocol):
    """The partner settings the next action depends on."""

    @property
    def max_attempts(self) -> int: ...

    @property
    def show_status_screen(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Decision:
    """What one attempt came to, ready to store."""

    status: SubmissionStatus
    result: Result | None
    reason_code: ReasonCode
    details: dict[str, Any] = field(default_factory=dict)
    score: float | None = None
    error_message: str | None = None
    similarity: float | None = None
    analysis: dict[str, Any] = field(default_factory=dict)
    """What the engine saw (boxes, landmarks, quality), for the console; never sent to partners."""


def face_geometry(face: FaceAnalysis) -> dict[str, Any]:
    """Where the engine found the face, in the pixels of the image it looked at."""
    box = face.box
    return {
        "box": [round(box.x, 1), round(box.y, 1), round(box.width, 1), round(box.height, 1)],
        "landmarks": [[round(x, 1), round(y, 1)] for x, y in face.landmarks],
        "rotation": face.rotation,
        "width": face.image_width,
        "height": face.image_height,
        "facesFound": face.faces_found,
        "greyscale": face.greyscale,
        "interocularPx": round(face.quality.interocular_px, 1),
        "qualityReasons": list(face.quality.reasons),
    }


def matched(match: MatchResult) -> Decision:
    seen = {
        "similarity": match.similarity,
        "selfie": face_geometry(match.selfie),
        "reference": face_geometry(match.reference),
    }
    return compared(
        match.score,
        match.match,
        match.model_version,
        match.threshold,
        match.far_at_threshold,
        band=match.band,
        similarity=match.similarity,
        analysis=seen,
    )


def compared(
    score: float,
    match: bool,
    version: str,
    threshold: float,
    far: float,
    *,
    band: str | None = None,
    similarity: float | None = None,
    analysis: dict[str, Any] | None = None,
) -> Decision:
    """The decision of a comparison: VALID, or INVALID/FACE_MATCH_FAILED, with its faceMatch block
    (``analysis``: what the console draws over the images; ``similarity``: what the review band reads)."""
    face_match: dict[str, object] = {
        "score": score,
        "result": match,
        "version": version,
        "threshold": threshold,
        "far": far,
        "decidedBy": DecidedBy.ENGINE,
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
    seen = analysis or {}
    if match:
        return Decision(
            SubmissionStatus.COMPLETED,
            Result.VALID,
            ReasonCode.NONE,
            details,
            score=score,
            similarity=similarity,
            analysis=seen,
        )
    return Decision(
        SubmissionStatus.COMPLETED,
        Result.INVALID,
        ReasonCode.FACE_MATCH_FAILED,
        details,
        score=score,
        similarity=similarity,
        analysis=seen,
    )


def selfie_unusable(error: ImageError | FaceError) -> Decision:
    details = {"selfieValidation": {"verificationResult": False, "verificationReasonCode": error.code}}
    return Decision(
        SubmissionStatus.COMPLETED,
        Result.INVALID,
        ReasonCode.INVALID_DOCUMENT,
        details,
        error_message=error.message,
    )


def reference_missing(kind: str) -> Decision:
    """The reference could not be had: not uploaded and no URL, or the fetch failed (``kind``)."""
    details = {"referenceImage": {"found": False, "failureKind": kind}}
    return Decision(
        SubmissionStatus.COMPLETED,
        Result.INVALID,
        ReasonCode.DOCUMENT_NOT_FOUND,
        details,
        error_message="reference image not found",
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
        SubmissionStatus.COMPLETED,
        Result.INVALID,
        ReasonCode.REFERENCE_IMAGE_VALIDATION_FAILED,
        details,
        error_message=error.message,
    )


def liveness_block(verdict: Verdict) -> dict[str, Any]:
    """``verificationResults.liveness``: the contract's ``result`` and ``version``, and (our
    addition) each check with the value it measured."""
    return {
        "result": verdict.passed,
        "version": verdict.version,
        "checks": [{"name": c.name, "passed": c.passed, "value": c.value} for c in verdict.checks],
    }


def not_live(verdict: Verdict) -> Decision:
    """A failed challenge: no face match is run (the contract's "not live" shape: no faceMatch)."""
    details = {"verificationResults": {"liveness": liveness_block(verdict)}}
    failed = ", ".join(c.name for c in verdict.checks if not c.passed)
    return Decision(
        SubmissionStatus.COMPLETED,
        Result.INVALID,
        ReasonCode.NOT_LIVE,
        details,
        error_message=f"liveness challenge failed ({failed})",
    )


def with_liveness(decision: Decision, verdict: Verdict) -> Decision:
    """``decision`` (of an attempt whose challenge passed) with the challenge's verdict in its details."""
    details = dict(decision.details)
    results = dict(details.get("verificationResults", {}))
    results["liveness"] = liveness_block(verdict)
    details["verificationResults"] = results
    return replace(decision, details=details)


def unexpected_failure(message: str = "verification failed") -> Decision:
    return Decision(SubmissionStatus.ERROR, None, ReasonCode.VERIFICATION_FAILED, {}, error_message=message)


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
        and status == SubmissionStatus.COMPLETED
        and reason_code in RETRYABLE_REASONS
        and attempts_used < max_attempts
    ):
        return NextAction.RETRY
    return NextAction.STATUS if show_status_screen else NextAction.EXIT


def final_action(partner: PartnerRules) -> NextAction:
    """The next action of a final attempt: the partner shows our status screen, or hides it."""
    return NextAction.STATUS if partner.show_status_screen else NextAction.EXIT


def attempts_remaining(max_attempts: int, attempts_used: int, *, session_final: bool) -> int:
    """Attempts the user may still make: none once the session is final (a final verdict, a finish
    on demand, the retry window's sweep), else what the partner's limit leaves."""
    return 0 if session_final else max(0, max_attempts - attempts_used)


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
