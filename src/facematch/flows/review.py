"""The queue side of review: partners' review settings, holding final attempts in a band, ending a
held attempt, and the deadline sweep. What a reviewer does (claims, decisions) is the console's
review desk (:mod:`facematch.flows.console.desk`); this module knows no operator accounts.

A reviewer's decision and the deadline's default both go through one conditional UPDATE of the
queue item (``state = 'open'``), so exactly one of them decides. Then :func:`finalize` makes the
attempt final (``COMPLETED``: ``VALID``, or ``INVALID`` with the reason), records
``faceMatch.decidedBy`` (``REVIEW`` with the reviewer's id, or ``REVIEW_DEADLINE``) and writes the
one completion callback, all in the same transaction.
"""

from __future__ import annotations

import copy
import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from facematch.config import Settings
from facematch.engine.calibrate import Calibration
from facematch.errors import InvalidFieldError, ReviewConflictError
from facematch.flows import callbacks
from facematch.flows.context import Services
from facematch.rules import review_band, views
from facematch.rules.review_band import APPROVE, Band
from facematch.rules.states import DecidedBy, NextAction, ReasonCode, Result, SubmissionStatus
from facematch.storage import audit_repo, review_repo, submission_repo
from facematch.storage.models import FlowSession, Partner, ReviewItem, Submission, utcnow

log = logging.getLogger(__name__)

DEADLINE_ACTOR = "system:review-deadline"


# ---------------------------------------------------------------- settings


def calibration_for(settings: Settings) -> Calibration:
    """The similarity → FAR curve of the configured recognizer (to give a band as FARs)."""
    if settings.engine.recognizer_calibration is not None:
        return Calibration.from_file(settings.engine.recognizer_calibration)
    from facematch.engine.models import bundled_recognizer

    return bundled_recognizer()[1]


def parse_band(text: str, calibration: Calibration | None = None) -> tuple[float, float]:
    """``LOW[:HIGH]`` in similarity, or ``far:FAR_LOW[:FAR_HIGH]`` (e.g. ``far:1e-2``: from the
    similarity where the FAR is 1e-2 up to the accept threshold). A missing HIGH is 1.0: every
    non-match from LOW up (matches are never held)."""
    value = text.strip().lower()
    as_far = value.startswith("far:")
    parts = value.removeprefix("far:").split(":")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        raise InvalidFieldError("review-band", f"not a band: {text!r}") from None
    if len(numbers) not in (1, 2):
        raise InvalidFieldError("review-band", f"not a band: {text!r}")
    if as_far:
        if calibration is None or not all(0 < far < 1 for far in numbers):
            raise InvalidFieldError("review-band", "FARs must be between 0 and 1")
        sims = [calibration.threshold_for(far) for far in numbers]
        return round(sims[0], 4), round(sims[1], 4) if len(sims) == 2 else 1.0
    return numbers[0], numbers[1] if len(numbers) == 2 else 1.0


def policy(svc: Services, partner_id: str) -> Band | None:
    with svc.db.session() as session:
        return review_repo.band_of(partner_id, session=session)


def set_policy(
    svc: Services, partner_id: str, band: Band | None, *, actor: str, source: str | None = None
) -> None:
    """Set (or with None remove) a partner's review band. Items already queued keep theirs."""
    with svc.db.session() as session:
        apply_policy(partner_id, band, actor=actor, source=source, session=session)


def apply_policy(
    partner_id: str, band: Band | None, *, actor: str, session: Session, source: str | None = None
) -> None:
    """:func:`set_policy` inside the caller's unit of work."""
    review_repo.set_band(partner_id, band, session=session)
    details: dict[str, Any] = {"partnerId": partner_id, "band": None}
    if band is not None:
        details["band"] = [band.low, band.high, band.deadline_s, band.default_outcome]
    audit_repo.audit(actor, "review_band_set", None, session=session, details=details, source=source)


# ---------------------------------------------------------------- holding


def band_holding(
    partner_id: str, reason_code: str | None, similarity: float | None, *, session: Session
) -> Band | None:
    """The partner's band when it holds this final outcome for a person; None: the engine decides."""
    return review_band.held(review_repo.band_of(partner_id, session=session), reason_code, similarity)


def hold(submission: Submission, band: Band, *, default_deadline_s: int, session: Session) -> None:
    """Queue a held attempt (already stored as IN_REVIEW by the caller's transaction)."""
    assert submission.similarity is not None
    face_match: dict[str, Any] = submission.details.get("verificationResults", {}).get("faceMatch", {})
    review_repo.add_item(
        submission.id,
        submission.partner_id,
        submission.similarity,
        float(face_match.get("threshold", band.high)),
        band,
        default_deadline_s=default_deadline_s,
        session=session,
    )


# ---------------------------------------------------------------- ending a held attempt


def finalize(
    session: Session,
    found: ReviewItem,
    outcome: str,
    reason_code: str,
    via: str,
    reviewer_id: str | None,
    now: datetime,
) -> Submission:
    """The held attempt becomes final with the person's (or the deadline's) outcome, and its callback."""
    submission = session.get(Submission, found.submission_id)
    assert submission is not None
    flow_session = session.get(FlowSession, submission.session_id)
    partner = session.get(Partner, submission.partner_id)
    assert flow_session is not None and partner is not None
    details = copy.deepcopy(submission.details)
    face_match = details.setdefault("verificationResults", {}).setdefault("faceMatch", {})
    face_match.update(
        {
            "result": outcome == APPROVE,
            "engineResult": False,
            "decidedBy": via,
            "reviewerId": reviewer_id,
            "reviewedAt": views.iso(now),
        }
    )
    approved = outcome == APPROVE
    action = NextAction.STATUS if partner.show_status_screen else NextAction.EXIT
    values = {
        "status": SubmissionStatus.COMPLETED,
        "result": Result.VALID if approved else Result.INVALID,
        "reason_code": ReasonCode.NONE if approved else reason_code,
        "details": details,
        "final": True,
        "next_action": action,
        "completed_at": now,
    }
    if not submission_repo.move_attempt(submission.id, SubmissionStatus.IN_REVIEW, values, session=session):
        raise ReviewConflictError("the submission is no longer waiting for review")
    session.refresh(submission)
    callbacks.write(submission, flow_session, session=session)
    return submission


def sweep_overdue(svc: Services, batch: int = 100) -> int:
    """Apply the default outcome to items past their deadline; returns how many it decided. Safe in
    several workers at once (the conditional UPDATE lets one of them decide each item)."""
    now = utcnow()
    with svc.db.session() as session:
        due = review_repo.overdue(now, batch, session=session)
    decided = 0
    for submission_id in due:
        with svc.db.session() as session:
            found = session.get(ReviewItem, submission_id)
            assert found is not None
            outcome = found.default_outcome
            code = ReasonCode.NONE if outcome == APPROVE else ReasonCode.FACE_MATCH_FAILED
            values = {
                "decided_at": now,
                "outcome": outcome,
                "reason_code": code or None,
                "note": "review deadline passed: default outcome applied",
                "decided_via": DecidedBy.REVIEW_DEADLINE,
            }
            if not review_repo.close_item(submission_id, values, session=session):
                continue
            submission = finalize(session, found, outcome, code, DecidedBy.REVIEW_DEADLINE, None, now)
            audit_repo.audit(
                DEADLINE_ACTOR,
                "review_default",
                submission_id,
                session=session,
                reason="the review deadline passed",
                details={"outcome": outcome, "dueAt": found.due_at.isoformat()},
            )
        svc.metrics.submissions.labels(
            submission.status, submission.result or "", submission.reason_code or ""
        ).inc()
        decided += 1
    return decided
