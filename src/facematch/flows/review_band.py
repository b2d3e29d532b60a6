"""The review band: which final attempts a person decides instead of the engine.

A partner's band is a range of similarity ``[low, high)``; only a final ``FACE_MATCH_FAILED``
(so similarity below the accept threshold) whose similarity falls in it is held: the attempt
becomes ``IN_REVIEW`` (partners see ``IN_PROGRESS`` with ``reviewRequired: true``) and a queue item
is written in the same transaction. Quality failures, unusable references and matches never enter
the queue. :mod:`facematch.flows.review` decides held attempts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from facematch.errors import InvalidFieldError
from facematch.storage.models import ReviewItem, ReviewPolicy, Submission, utcnow

APPROVE = "APPROVE"
REJECT = "REJECT"
OUTCOMES = (APPROVE, REJECT)


@dataclass(frozen=True, slots=True)
class Band:
    """A partner's review settings: similarity range, deadline (None: the default) and default outcome."""

    low: float
    high: float
    deadline_s: int | None = None
    default_outcome: str = REJECT

    def __post_init__(self) -> None:
        if not (-1.0 <= self.low < self.high <= 1.0) or not all(map(math.isfinite, (self.low, self.high))):
            raise InvalidFieldError("review-band", "the band must be LOW:HIGH with -1 <= LOW < HIGH <= 1")
        if self.deadline_s is not None and not 60 <= self.deadline_s <= 30 * 86_400:
            raise InvalidFieldError("review-deadline", "the review deadline must be 1 minute to 30 days")
        if self.default_outcome not in OUTCOMES:
            raise InvalidFieldError("review-default", "the default outcome must be APPROVE or REJECT")

    def holds(self, similarity: float) -> bool:
        return self.low <= similarity < self.high


def policy_band(policy: ReviewPolicy) -> Band:
    return Band(policy.band_low, policy.band_high, policy.deadline_s, policy.default_outcome)


def band_for(
    reason_code: str | None, similarity: float | None, partner_id: str, *, session: Session
) -> Band | None:
    """The partner's band when it holds this final outcome for a person; None: the engine decides."""
    if reason_code != "FACE_MATCH_FAILED" or similarity is None:
        return None
    policy = session.get(ReviewPolicy, partner_id)
    if policy is None:
        return None
    band = policy_band(policy)
    return band if band.holds(similarity) else None


def enqueue(submission: Submission, band: Band, *, default_deadline_s: int, session: Session) -> None:
    """The queue item of a held attempt (the caller's transaction also stores the attempt)."""
    assert submission.similarity is not None
    face_match: dict[str, Any] = submission.details.get("verificationResults", {}).get("faceMatch", {})
    now = utcnow()
    session.add(
        ReviewItem(
            submission_id=submission.id,
            partner_id=submission.partner_id,
            state="open",
            similarity=submission.similarity,
            threshold=float(face_match.get("threshold", band.high)),
            band_low=band.low,
            band_high=band.high,
            default_outcome=band.default_outcome,
            created_at=now,
            due_at=now + timedelta(seconds=band.deadline_s or default_deadline_s),
        )
    )
