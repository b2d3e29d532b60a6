"""How a submission looks to the partner (Get Submission Details, the completion callback) and to
the user (Get Submission Status). Pure: records in, the contract's JSON shapes out.

A field added to what partners receive is added here: :func:`details_data` is the ``data`` of Get
Submission Details, and :func:`callback_body` (the same without image URLs) is the body of the
completion callback that :mod:`facematch.flows.outbox` stores and sends.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from facematch.rules.states import (
    DECIDED,
    UNDECIDED,
    DocumentStatus,
    DocumentType,
    Flow,
    ReasonCode,
    Result,
    RiskLevel,
    SubmissionStatus,
    WebOutcome,
)

SANDBOX = "sandbox"


class AttemptRecord(Protocol):
    """What the views read of a stored attempt (``storage.models.Submission``)."""

    @property
    def id(self) -> str: ...
    @property
    def attempt(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def final(self) -> bool: ...
    @property
    def result(self) -> str | None: ...
    @property
    def reason_code(self) -> str | None: ...
    @property
    def details(self) -> dict[str, Any]: ...
    @property
    def error_message(self) -> str | None: ...
    @property
    def submission_type(self) -> str: ...
    @property
    def selfie_blob(self) -> str | None: ...
    @property
    def reference_blob(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def completed_at(self) -> datetime | None: ...


class SessionRecord(Protocol):
    """What the views read of a partner session (``storage.models.FlowSession``)."""

    @property
    def partner_session_id(self) -> str: ...
    @property
    def partner_user_id(self) -> str: ...
    @property
    def partner_user_id_type(self) -> str: ...
    @property
    def sandbox(self) -> bool: ...


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def partner_visible_status(submission: AttemptRecord) -> SubmissionStatus:
    """A decided attempt that the user may still retry, or one waiting for a reviewer, is still
    IN_PROGRESS for the partner."""
    if submission.status in DECIDED and submission.final:
        return SubmissionStatus(submission.status)
    return SubmissionStatus.IN_PROGRESS


def details_data(
    submission: AttemptRecord, flow_session: SessionRecord, *, selfie_url: str | None
) -> dict[str, Any]:
    """The ``data`` object of Get Submission Details (and, without image URLs, of the callback)."""
    status = partner_visible_status(submission)
    data: dict[str, Any] = {
        "status": status,
        "submissionId": submission.id,
        "flow": Flow.FACE_MATCH,
        "partnerSessionId": flow_session.partner_session_id,
        "userId": flow_session.partner_user_id,
        "userIdType": flow_session.partner_user_id_type,
    }
    if flow_session.sandbox:
        data["environment"] = SANDBOX
    if status == SubmissionStatus.ERROR:
        data["reasonCode"] = submission.reason_code or ReasonCode.VERIFICATION_FAILED
        data["processedAt"] = iso(submission.completed_at)
        return data
    if submission.status == SubmissionStatus.IN_REVIEW:
        data["reviewRequired"] = True
    details: dict[str, Any] = {}
    if status == SubmissionStatus.COMPLETED:
        data["result"] = submission.result
        data["reasonCode"] = submission.reason_code or ReasonCode.NONE
        data["processedAt"] = iso(submission.completed_at)
        details = copy.deepcopy(submission.details)
    if selfie_url is not None:
        details["imageUrls"] = {"selfie": selfie_url}
    data["submissionDetails"] = details
    return data


def callback_body(submission: AttemptRecord, flow_session: SessionRecord) -> dict[str, Any]:
    """The body of the completion callback of a final attempt: its Get Submission Details ``data``
    without image URLs (a callback carries no images and no links to them)."""
    return details_data(submission, flow_session, selfie_url=None)


#: Reasons that lie on the document's side (the partner's reference), not with the user's photo.
_DOCUMENT_SIDE = frozenset({ReasonCode.DOCUMENT_NOT_FOUND, ReasonCode.REFERENCE_IMAGE_VALIDATION_FAILED})


def web_outcome(submission: AttemptRecord) -> WebOutcome:
    """The status screen's word for a final attempt: what happened, said to the user without
    blaming them for what the partner's side did."""
    if submission.status != SubmissionStatus.COMPLETED:
        return WebOutcome.ERROR
    if submission.result == Result.VALID:
        return WebOutcome.APPROVED
    if submission.reason_code in _DOCUMENT_SIDE:
        return WebOutcome.NOT_COMPARED
    if submission.reason_code == ReasonCode.INVALID_DOCUMENT:
        return WebOutcome.PHOTO_UNUSABLE
    if submission.reason_code == ReasonCode.NOT_LIVE:
        return WebOutcome.NOT_LIVE
    return WebOutcome.REJECTED


def _risk(submission: AttemptRecord) -> RiskLevel:
    if submission.result == Result.VALID:
        return RiskLevel.LOW
    if submission.reason_code in (ReasonCode.FACE_MATCH_FAILED, ReasonCode.NOT_LIVE):
        return RiskLevel.HIGH
    return RiskLevel.MEDIUM


def _document_status(blob: str | None, submission: AttemptRecord, role: DocumentType) -> DocumentStatus:
    if submission.status == SubmissionStatus.INITIATED or submission.status in UNDECIDED:
        return DocumentStatus.UPLOADED if blob else DocumentStatus.PENDING
    reason = submission.reason_code
    if role == DocumentType.SELFIE and reason in (ReasonCode.INVALID_DOCUMENT, ReasonCode.NOT_LIVE):
        return DocumentStatus.INVALID
    if role == DocumentType.REFERENCE and reason == ReasonCode.REFERENCE_IMAGE_VALIDATION_FAILED:
        return DocumentStatus.INVALID
    if role == DocumentType.REFERENCE and reason == ReasonCode.DOCUMENT_NOT_FOUND:
        return DocumentStatus.PENDING
    if submission.status == SubmissionStatus.COMPLETED:
        return DocumentStatus.VERIFIED
    return DocumentStatus.UPLOADED if blob else DocumentStatus.PENDING


def status_data(
    submission: AttemptRecord, *, next_action: str | None, attempts_used: int, attempts_remaining: int
) -> dict[str, Any]:
    """The ``data`` of Get Submission Status (user side): no scores, no thresholds."""
    decided = submission.status in DECIDED
    verification = None
    if submission.status == SubmissionStatus.COMPLETED:
        verification = {"isApproved": submission.result == Result.VALID, "riskLevel": _risk(submission)}
    in_review = submission.status == SubmissionStatus.IN_REVIEW
    return {
        "submissionId": submission.id,
        "status": SubmissionStatus.IN_PROGRESS if in_review else submission.status,
        "reviewRequired": in_review,
        "submissionType": submission.submission_type,
        "createdAt": iso(submission.created_at),
        "completedAt": iso(submission.completed_at) if decided else None,
        "verificationResult": verification,
        "result": submission.result if decided else None,
        "reasonCode": submission.reason_code if decided else None,
        "errorMessage": submission.error_message if submission.status == SubmissionStatus.ERROR else None,
        "documents": {
            DocumentType.SELFIE: {
                "status": _document_status(submission.selfie_blob, submission, DocumentType.SELFIE),
                "documentReference": f"{submission.id}/SELFIE" if submission.selfie_blob else None,
            },
            DocumentType.REFERENCE: {
                "status": _document_status(submission.reference_blob, submission, DocumentType.REFERENCE),
                "documentReference": f"{submission.id}/REFERENCE" if submission.reference_blob else None,
            },
        },
        "nextAction": next_action,
        "attemptsUsed": attempts_used,
        "attemptsRemaining": attempts_remaining,
    }


def attempts_data(attempts: Sequence[AttemptRecord]) -> list[dict[str, Any]] | None:
    """Each decided attempt of a session that is between attempts (a retry was offered and no attempt
    is final yet), oldest first; None otherwise (a final session reports its verdict as before)."""
    if any(attempt.final for attempt in attempts):
        return None
    decided = [a for a in attempts if a.status in DECIDED]
    if not decided:
        return None
    return [
        {
            "attempt": attempt.attempt,
            "submissionId": attempt.id,
            "result": attempt.result,
            "reasonCode": attempt.reason_code or ReasonCode.NONE,
            "processedAt": iso(attempt.completed_at),
        }
        for attempt in decided
    ]


def with_progress(
    data: dict[str, Any], flow_session: SessionRecord, attempts: Sequence[AttemptRecord]
) -> dict[str, Any]:
    """``data`` (a details or status answer) with the session's decided ``attempts`` (all of the
    session's attempts, oldest first) while it is between attempts, and ``environment`` for a sandbox
    session."""
    decided = attempts_data(attempts)
    if decided is not None:
        data["attempts"] = decided
    if flow_session.sandbox:
        data["environment"] = SANDBOX
    return data
