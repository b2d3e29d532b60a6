"""The queue side of review: partners' review settings and holding final attempts in a band. What
a reviewer does (claims, decisions) is the console's review desk
(:mod:`facematch.flows.console.desk`); this module knows no operator accounts.

A reviewer's decision and the deadline's default both go through one conditional UPDATE of the
queue item (``state = 'open'``), so exactly one of them decides; the held attempt then ends in
:func:`facematch.flows.verdicts.decide_held`, as every attempt ends, in the same transaction.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from facematch.config import Settings
from facematch.engine.calibrate import Calibration
from facematch.errors import InvalidFieldError
from facematch.flows.context import Services
from facematch.rules import review_band
from facematch.rules.review_band import Band
from facematch.storage import audit_repo, review_repo
from facematch.storage.models import Submission

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
