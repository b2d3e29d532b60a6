"""How a submission looks to the partner (Get Submission Details, callbacks) and to the user (status)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from facematch.flows.decisions import IN_REVIEW
from facematch.storage import repo
from facematch.storage.models import FlowSession, Submission


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def partner_visible_status(submission: Submission) -> str:
    """A decided attempt that the user may still retry, or one waiting for a reviewer, is still
    IN_PROGRESS for the partner."""
    if submission.status in ("COMPLETED", "ERROR") and submission.final:
        return submission.status
    return "IN_PROGRESS"


def details_data(
    submission: Submission, flow_session: FlowSession, *, selfie_url: str | None
) -> dict[str, Any]:
    """The ``data`` object of Get Submission Details (and, without image URLs, of the callback)."""
    status = partner_visible_status(submission)
    data: dict[str, Any] = {
        "status": status,
        "submissionId": submission.id,
        "flow": "FACE_MATCH",
        "partnerSessionId": flow_session.partner_session_id,
        "userId": flow_session.partner_user_id,
        "userIdType": flow_session.partner_user_id_type,
    }
    if flow_session.sandbox:
        data["environment"] = "sandbox"
    if status == "ERROR":
        data["reasonCode"] = submission.reason_code or "VERIFICATION_FAILED"
        data["processedAt"] = iso(submission.completed_at)
        return data
    if submission.status == IN_REVIEW:
        data["reviewRequired"] = True
    details: dict[str, Any] = {}
    if status == "COMPLETED":
        data["result"] = submission.result
        data["reasonCode"] = submission.reason_code or ""
        data["processedAt"] = iso(submission.completed_at)
        details = copy.deepcopy(submission.details)
    if selfie_url is not None:
        details["imageUrls"] = {"selfie": selfie_url}
    data["submissionDetails"] = details
    return data


def _risk(submission: Submission) -> str:
    if submission.result == "VALID":
        return "LOW"
    if submission.reason_code == "FACE_MATCH_FAILED":
        return "HIGH"
    return "MEDIUM"


def _document_status(blob: str | None, submission: Submission, role: str) -> str:
    if submission.status in ("INITIATED", "IN_PROGRESS", IN_REVIEW):
        return "UPLOADED" if blob else "PENDING"
    reason = submission.reason_code
    if role == "SELFIE" and reason == "INVALID_DOCUMENT":
        return "INVALID"
    if role == "REFERENCE" and reason == "REFERENCE_IMAGE_VALIDATION_FAILED":
        return "INVALID"
    if role == "REFERENCE" and reason == "DOCUMENT_NOT_FOUND":
        return "PENDING"
    if submission.status == "COMPLETED":
        return "VERIFIED"
    return "UPLOADED" if blob else "PENDING"


def status_data(
    submission: Submission, *, next_action: str | None, attempts_used: int, max_attempts: int
) -> dict[str, Any]:
    """The ``data`` of Get Submission Status (user side): no scores, no thresholds."""
    decided = submission.status in ("COMPLETED", "ERROR")
    verification = None
    if submission.status == "COMPLETED":
        verification = {"isApproved": submission.result == "VALID", "riskLevel": _risk(submission)}
    return {
        "submissionId": submission.id,
        "status": "IN_PROGRESS" if submission.status == IN_REVIEW else submission.status,
        "reviewRequired": submission.status == IN_REVIEW,
        "submissionType": submission.submission_type,
        "createdAt": iso(submission.created_at),
        "completedAt": iso(submission.completed_at) if decided else None,
        "verificationResult": verification,
        "result": submission.result if decided else None,
        "reasonCode": submission.reason_code if decided else None,
        "errorMessage": submission.error_message if submission.status == "ERROR" else None,
        "documents": {
            "SELFIE": {
                "status": _document_status(submission.selfie_blob, submission, "SELFIE"),
                "documentReference": f"{submission.id}/SELFIE" if submission.selfie_blob else None,
            },
            "REFERENCE": {
                "status": _document_status(submission.reference_blob, submission, "REFERENCE"),
                "documentReference": f"{submission.id}/REFERENCE" if submission.reference_blob else None,
            },
        },
        "nextAction": next_action,
        "attemptsUsed": attempts_used,
        "attemptsRemaining": max(0, max_attempts - attempts_used),
    }


def attempts_data(attempts: Sequence[Submission]) -> list[dict[str, Any]] | None:
    """Each decided attempt of a session that is between attempts (a retry was offered and no attempt
    is final yet), oldest first; None otherwise (a final session reports its verdict as before)."""
    if any(attempt.final for attempt in attempts):
        return None
    decided = [a for a in attempts if a.status in ("COMPLETED", "ERROR")]
    if not decided:
        return None
    return [
        {
            "attempt": attempt.attempt,
            "submissionId": attempt.id,
            "result": attempt.result,
            "reasonCode": attempt.reason_code or "",
            "processedAt": iso(attempt.completed_at),
        }
        for attempt in decided
    ]


def with_session_progress(
    data: dict[str, Any], flow_session: FlowSession, *, session: Session
) -> dict[str, Any]:
    """``data`` (a details or status answer) with the session's decided ``attempts`` while it is between
    attempts, and ``environment`` for a sandbox session."""
    attempts = attempts_data(repo.session_attempts(flow_session.id, session=session))
    if attempts is not None:
        data["attempts"] = attempts
    if flow_session.sandbox:
        data["environment"] = "sandbox"
    return data
