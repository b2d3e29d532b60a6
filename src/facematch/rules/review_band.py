"""The review band: which final attempts a person decides instead of the engine.

A partner's band is a range of similarity ``[low, high)``; only a final ``FACE_MATCH_FAILED``
(so similarity below the accept threshold) whose similarity falls in it is held: the attempt
becomes ``IN_REVIEW`` (partners see ``IN_PROGRESS`` with ``reviewRequired: true``) and a queue item
is written in the same transaction. Quality failures, unusable references and matches never enter
the queue. :mod:`facematch.flows.review` holds attempts and decides them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from facematch.errors import InvalidFieldError
from facematch.rules.states import ReasonCode, ReviewOutcome

APPROVE = ReviewOutcome.APPROVE
REJECT = ReviewOutcome.REJECT


@dataclass(frozen=True, slots=True)
class Band:
    """A partner's review settings: similarity range, deadline (None: the default) and default outcome."""

    low: float
    high: float
    deadline_s: int | None = None
    default_outcome: ReviewOutcome = REJECT

    def __post_init__(self) -> None:
        if not (-1.0 <= self.low < self.high <= 1.0) or not all(map(math.isfinite, (self.low, self.high))):
            raise InvalidFieldError("review-band", "the band must be LOW:HIGH with -1 <= LOW < HIGH <= 1")
        if self.deadline_s is not None and not 60 <= self.deadline_s <= 30 * 86_400:
            raise InvalidFieldError("review-deadline", "the review deadline must be 1 minute to 30 days")
        if self.default_outcome not in tuple(ReviewOutcome):
            raise InvalidFieldError("review-default", "the default outcome must be APPROVE or REJECT")

    def holds(self, similarity: float) -> bool:
        return self.low <= similarity < self.high


def held(band: Band | None, reason_code: str | None, similarity: float | None) -> Band | None:
    """``band`` when it holds this final outcome for a person; None: the engine decides. Only a
    non-match is held: quality failures, unusable references and matches never are."""
    if band is None or reason_code != ReasonCode.FACE_MATCH_FAILED or similarity is None:
        return None
    return band if band.holds(similarity) else None


def label(low: float, high: float, threshold: float | None = None) -> str:
    """The band as people read it: it ends at the accept threshold when given as "up to it" (a
    high of 1.0, or any high above the threshold)."""
    top = min(high, threshold) if threshold is not None else high
    if top >= 1.0:
        return f"{low:.3f} up to the accept threshold"
    return f"{low:.3f}–{top:.3f}"
