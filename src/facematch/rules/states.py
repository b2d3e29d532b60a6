"""Every state and code facematch stores or sends, as ``StrEnum``s (the wire values are the contract's).

A member *is* its string (``SubmissionStatus.COMPLETED == "COMPLETED"``), so rows, JSON bodies and
query parameters carry exactly the values they always did; what the enums add is that a misspelt
state is a mypy error instead of a silent mismatch.

Submission (one attempt)::

    INITIATED ──confirm──▶ IN_PROGRESS ──decided──▶ COMPLETED | ERROR
                                    └──review band──▶ IN_REVIEW ──reviewer / deadline──▶ COMPLETED

Job: ``queued → running (leased) → done``; a lapsed lease is claimed again. Callback (outbox
message): ``pending → delivered``, or ``dead`` after its schedule, or ``gone`` when the receiver
answered 410. Review item: ``open → decided``.
"""

from __future__ import annotations

from enum import StrEnum


class SubmissionStatus(StrEnum):
    INITIATED = "INITIATED"
    """Created by Get Presigned URLs; images may be uploaded; not confirmed yet."""
    IN_PROGRESS = "IN_PROGRESS"
    """Confirmed; its job decides it (partners also see this while a retry is open)."""
    IN_REVIEW = "IN_REVIEW"
    """Final and in the partner's review band: a person decides (partners see IN_PROGRESS)."""
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"


#: An attempt whose verdict is recorded (final or with a retry offered).
DECIDED = frozenset({SubmissionStatus.COMPLETED, SubmissionStatus.ERROR})
#: An attempt that is confirmed and not decided yet.
UNDECIDED = frozenset({SubmissionStatus.IN_PROGRESS, SubmissionStatus.IN_REVIEW})


class Result(StrEnum):
    VALID = "VALID"
    INVALID = "INVALID"


class ReasonCode(StrEnum):
    NONE = ""
    """A match: the contract sends an empty reasonCode."""
    FACE_MATCH_FAILED = "FACE_MATCH_FAILED"
    INVALID_DOCUMENT = "INVALID_DOCUMENT"
    """The selfie cannot be used (no face, several faces, quality, not an image)."""
    DOCUMENT_NOT_FOUND = "DOCUMENT_NOT_FOUND"
    """The reference was not uploaded, or its URL could not be fetched."""
    REFERENCE_IMAGE_VALIDATION_FAILED = "REFERENCE_IMAGE_VALIDATION_FAILED"
    VERIFICATION_FAILED = "VERIFICATION_FAILED"
    """Anything unexpected (status ERROR)."""
    FRAUD_REJECT = "FRAUD_REJECT"
    """A reviewer's rejection for suspected fraud (review band only)."""
    NOT_LIVE = "NOT_LIVE"
    """The session asked for liveness and the head-move challenge failed (no face match was run)."""


class WebOutcome(StrEnum):
    """What the hosted flow's status screen says of a final attempt (words for the user, no score)."""

    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    """The faces do not match (or a reviewer rejected the match)."""
    PHOTO_UNUSABLE = "PHOTO_UNUSABLE"
    """The user's own photo could not be used (no clear face, several faces, quality)."""
    NOT_LIVE = "NOT_LIVE"
    """The head-move challenge did not show a live person doing the moves asked for."""
    NOT_COMPARED = "NOT_COMPARED"
    """The document's side failed: the partner's reference was missing, unreachable or held no
    usable face. Nothing the user did; the message must not say otherwise."""
    ERROR = "ERROR"


#: Outcomes a user can fix by taking another selfie (with its challenge, where one is asked for).
RETRYABLE_REASONS = frozenset(
    {ReasonCode.FACE_MATCH_FAILED, ReasonCode.INVALID_DOCUMENT, ReasonCode.NOT_LIVE}
)


class DocumentType(StrEnum):
    """The slots of an attempt (the contract leaves the reference slot's name open: ours is
    ``REFERENCE`` for every document type)."""

    SELFIE = "SELFIE"
    REFERENCE = "REFERENCE"
    LIVENESS = "LIVENESS"
    """A backend partner's challenge clip (only when the session asks for liveness)."""


class Flow(StrEnum):
    """Initiate Flow's ``flow`` (and every result's): the one flow facematch runs."""

    FACE_MATCH = "FACE_MATCH"


class Theme(StrEnum):
    """Initiate Flow's ``theme`` for the hosted flow."""

    DARK_MODE = "DARK_MODE"
    LIGHT_MODE = "LIGHT_MODE"
    NO_PREFERENCE = "NO_PREFERENCE"


class Locale(StrEnum):
    """Initiate Flow's ``additionalDetails.userLocale``: the hosted flow's language."""

    ID = "id_ID"
    EN = "en_ID"


class DocumentStatus(StrEnum):
    """A document's state in Get Submission Status."""

    PENDING = "PENDING"
    UPLOADED = "UPLOADED"
    VERIFIED = "VERIFIED"
    INVALID = "INVALID"


class NextAction(StrEnum):
    RETRY = "RETRY"
    """The user can fix this (selfie quality, no/several faces, no match) and attempts remain."""
    STATUS = "STATUS"
    """Final; the partner shows our status screen."""
    EXIT = "EXIT"
    """Final; the partner hides the status screen: go straight back to the partner."""


class RiskLevel(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class Source(StrEnum):
    """Where a partner session came from."""

    API = "API"
    """Backend to backend: presigned uploads or the synchronous compare; every attempt is final."""
    SDK = "SDK"
    """Initiate Flow for a native SDK (a user token; the user may retry)."""
    WEB_SDK = "WEB_SDK"
    """Initiate Flow for the hosted web flow (a launch URL; the user may retry)."""


#: Initiate Flow's ``source`` values (``API`` is a backend session's, made by a user token).
INITIATE_SOURCES = (Source.SDK, Source.WEB_SDK)


class DecidedBy(StrEnum):
    """Who decided a face match (``faceMatch.decidedBy``)."""

    ENGINE = "ENGINE"
    REVIEW = "REVIEW"
    REVIEW_DEADLINE = "REVIEW_DEADLINE"


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


class DeliveryState(StrEnum):
    """An outbox message (one logical callback)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    """Its schedule ran out; an operator may resend it."""
    GONE = "gone"
    """The receiver answered 410: no more attempts."""
    UNSENT = "unsent"
    """The partner had no callback URL when it was written: kept, never attempted, not dead; an
    operator may send it once a URL is set (``facematch callbacks resend``)."""


class ReviewState(StrEnum):
    OPEN = "open"
    DECIDED = "decided"


class ReviewOutcome(StrEnum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"


class LivenessMode(StrEnum):
    """Whether a session's selfie must come with a live head-move challenge (docs/liveness.md):
    a partner's setting ``liveness``, and Initiate Flow's ``additionalDetails.liveness``."""

    OFF = "off"
    ACTIVE = "active"


def liveness_of(partner: LivenessMode | str, asked: LivenessMode | str | None = None) -> LivenessMode:
    """A session's liveness: what its partner requires, or more if the session asked for it (a
    session never turns off what its partner requires)."""
    if LivenessMode.ACTIVE in (partner, asked):
        return LivenessMode.ACTIVE
    return LivenessMode.OFF
