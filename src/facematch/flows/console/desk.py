"""The review desk: what reviewers do with the review queue.

Opening an item **claims** it for that reviewer for ``console.review_claim_s`` (renewed while their
page is in use, released when they decide or leave): one conditional UPDATE, so of two reviewers
opening one item at once exactly one gets it; the other sees "in review by X until HH:MM" and the
item read-only, without its images. A decision is one conditional UPDATE too (still open, and not
under someone else's live claim); the item's deadline decides regardless of claims
(:func:`facematch.flows.verdicts.sweep_overdue_reviews`). An admin can release anyone's claim (audited).
The held attempt is then ended by :func:`facematch.flows.verdicts.decide_held`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from facematch.errors import (
    InvalidFieldError,
    ReviewClaimedError,
    ReviewConflictError,
    ReviewNotFoundError,
)
from facematch.flows import verdicts
from facematch.flows.console import zones
from facematch.flows.console.images import ImageGrant, grant_images
from facematch.flows.console.operators import ConsoleUser, Permission
from facematch.flows.context import Services
from facematch.rules.review_band import APPROVE, REJECT
from facematch.rules.states import DecidedBy, ReasonCode, ReviewState
from facematch.storage import audit_repo, operator_repo, review_repo
from facematch.storage.models import FlowSession, ReviewItem, Submission

#: Reasons a reviewer may reject with (the partner's ``reasonCode``).
REJECT_REASONS: dict[str, str] = {
    ReasonCode.FACE_MATCH_FAILED: "Not the same person",
    ReasonCode.FRAUD_REJECT: "Suspected fraud (photo of a photo, screen, mask, edited image)",
    ReasonCode.REFERENCE_IMAGE_VALIDATION_FAILED: "The reference portrait cannot be used",
    ReasonCode.INVALID_DOCUMENT: "The selfie cannot be used",
}
MAX_NOTE = 1000


@dataclass(frozen=True, slots=True)
class Claim:
    operator_id: str
    email: str
    until: datetime


@dataclass(frozen=True, slots=True)
class QueueRow:
    submission_id: str
    partner_id: str
    partner_name: str
    partner_session_id: str
    similarity: float
    threshold: float
    band_low: float
    band_high: float
    default_outcome: str
    created_at: datetime
    due_at: datetime
    claim: Claim | None = None
    """Who has the item in front of them right now (None: nobody)."""

    @property
    def band_top(self) -> float:
        """Where the band really ends: at the accept threshold when it was given as "up to it"."""
        return min(self.band_high, self.threshold)


@dataclass(frozen=True, slots=True)
class ItemView:
    """One queue item as the console shows it."""

    row: QueueRow
    state: str
    outcome: str | None
    reason_code: str | None
    note: str | None
    decided_at: datetime | None
    decided_by: str | None
    """The reviewer's e-mail, or None (the deadline, or not decided)."""
    decided_via: str | None

    def claimed_by_other(self, user: ConsoleUser) -> bool:
        claim = self.row.claim
        return claim is not None and claim.operator_id != user.operator_id

    def mine(self, user: ConsoleUser) -> bool:
        claim = self.row.claim
        return self.state == ReviewState.OPEN and claim is not None and claim.operator_id == user.operator_id


@dataclass(frozen=True, slots=True)
class ReviewSheet:
    """What the review page shows: the item, and for its claimant the images and where the faces are."""

    item: ItemView
    grant: ImageGrant | None
    analysis: dict[str, Any]
    claim_s: int
    """Seconds left on the viewer's own claim (0: not theirs)."""


def _claims(items: list[ReviewItem], now: datetime, *, session: Session) -> dict[str, Claim]:
    live = {i.submission_id: i for i in items if i.claimed_by and i.claimed_until and i.claimed_until > now}
    emails = operator_repo.operator_emails(
        {i.claimed_by for i in live.values() if i.claimed_by}, session=session
    )
    return {
        sid: Claim(i.claimed_by or "", emails.get(i.claimed_by or "", "another reviewer"), i.claimed_until)
        for sid, i in live.items()
        if i.claimed_until is not None
    }


def _row(item: ReviewItem, flow_session: FlowSession, partner_name: str, claim: Claim | None) -> QueueRow:
    return QueueRow(
        submission_id=item.submission_id,
        partner_id=item.partner_id,
        partner_name=partner_name,
        partner_session_id=flow_session.partner_session_id,
        similarity=item.similarity,
        threshold=item.threshold,
        band_low=item.band_low,
        band_high=item.band_high,
        default_outcome=item.default_outcome,
        created_at=item.created_at,
        due_at=item.due_at,
        claim=claim,
    )


def queue(
    svc: Services, user: ConsoleUser, *, partner_id: str | None = None, page: int = 1
) -> tuple[list[QueueRow], int]:
    """Open items oldest first (one page), with who is reviewing which, and how many are open."""
    user.require(Permission.READ)
    size = svc.settings.console.page_size
    now = svc.clock.now()
    with svc.db.session() as session:
        rows = review_repo.open_items(
            session=session, partner_id=partner_id, limit=size, offset=(max(1, page) - 1) * size
        )
        claims = _claims([item for item, _, _ in rows], now, session=session)
        total = review_repo.count_open(session=session, partner_id=partner_id)
        return [_row(i, f, name, claims.get(i.submission_id)) for i, f, name in rows], total


def item(svc: Services, submission_id: str) -> ItemView | None:
    with svc.db.session() as session:
        found = review_repo.item_with_context(submission_id, session=session)
        if found is None:
            return None
        entry, flow_session, partner_name = found
        claims = _claims([entry], svc.clock.now(), session=session) if entry.state == ReviewState.OPEN else {}
        emails = operator_repo.operator_emails(
            {entry.decided_by} if entry.decided_by else set(), session=session
        )
        return ItemView(
            row=_row(entry, flow_session, partner_name, claims.get(submission_id)),
            state=entry.state,
            outcome=entry.outcome,
            reason_code=entry.reason_code,
            note=entry.note,
            decided_at=entry.decided_at,
            decided_by=emails.get(entry.decided_by or ""),
            decided_via=entry.decided_via,
        )


def _held_message(claim: Claim, user: ConsoleUser) -> str:
    return f"in review by {claim.email} until {zones.clock(claim.until, user.time_zone)}"


def _require_item(svc: Services, submission_id: str) -> ItemView:
    found = item(svc, submission_id)
    if found is None:
        raise ReviewNotFoundError()
    return found


def claim(svc: Services, user: ConsoleUser, submission_id: str) -> datetime:
    """Take (or renew) the item for this reviewer; returns until when. ReviewClaimedError while
    someone else has it, ReviewConflictError once it is decided."""
    user.require(Permission.DECIDE)
    now = svc.clock.now()
    until = now + timedelta(seconds=svc.settings.console.review_claim_s)
    with svc.db.session() as session:
        won = review_repo.claim(submission_id, user.operator_id, now, until, session=session)
    if won:
        return until
    found = _require_item(svc, submission_id)
    if found.state != ReviewState.OPEN:
        raise ReviewConflictError(_decided_text(found, user))
    assert found.row.claim is not None
    raise ReviewClaimedError(_held_message(found.row.claim, user))


def release(svc: Services, user: ConsoleUser, submission_id: str) -> None:
    """The reviewer leaves the item: their claim (and only theirs) ends."""
    user.require(Permission.DECIDE)
    with svc.db.session() as session:
        review_repo.release(submission_id, session=session, operator_id=user.operator_id)


def release_for_all(svc: Services, user: ConsoleUser, submission_id: str, *, source: str) -> None:
    """An admin ends whoever's claim is on the item (audited)."""
    user.require(Permission.RELEASE_CLAIMS)
    found = _require_item(svc, submission_id)
    with svc.db.session() as session:
        released = review_repo.release(submission_id, session=session)
        claim_of = found.row.claim
        audit_repo.audit(
            user.actor,
            "review_release",
            submission_id,
            session=session,
            details={
                "claimedBy": claim_of.email if claim_of else None,
                "claimedUntil": claim_of.until.isoformat() if claim_of else None,
                "released": released,
            },
            source=source,
        )


def open_next(svc: Services, user: ConsoleUser, *, skip: str | None = None) -> str | None:
    """Claim the oldest item nobody else is reviewing (other than ``skip``); None: nothing left."""
    user.require(Permission.DECIDE)
    for _ in range(5):  # another reviewer may take the one found first
        with svc.db.session() as session:
            found = review_repo.next_free(user.operator_id, svc.clock.now(), session=session, skip=skip)
        if found is None:
            return None
        try:
            claim(svc, user, found)
        except (ReviewClaimedError, ReviewConflictError):
            continue
        return found
    return None


def sheet(svc: Services, user: ConsoleUser, submission_id: str, *, source: str) -> ReviewSheet:
    """The review page: for the reviewer who holds the claim, the images (audited as
    ``review_open``); for everyone else the item read-only."""
    user.require(Permission.READ)
    found = _require_item(svc, submission_id)
    if not (found.mine(user) and user.can(Permission.DECIDE)):
        return ReviewSheet(found, None, {}, 0)
    grant = grant_images(
        svc,
        user,
        submission_id,
        "opened from the review queue to decide it",
        source=source,
        action="review_open",
    )
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None
        analysis = dict(submission.analysis or {})
    assert found.row.claim is not None
    left = max(0, int((found.row.claim.until - svc.clock.now()).total_seconds()))
    return ReviewSheet(found, grant, analysis, left)


def decide(
    svc: Services,
    user: ConsoleUser,
    submission_id: str,
    outcome: str,
    reason_code: str | None,
    note: str,
    *,
    source: str | None = None,
) -> None:
    """A reviewer approves or rejects a queued attempt, with a reason; first decision wins, and
    nobody decides an item someone else is reviewing."""
    user.require(Permission.DECIDE)
    outcome = outcome.upper()
    if outcome not in (APPROVE, REJECT):
        raise InvalidFieldError("outcome", "approve or reject")
    note = note.strip()
    if not note:
        raise InvalidFieldError("note", "say why (the note is kept in the audit trail)")
    if len(note) > MAX_NOTE:
        raise InvalidFieldError("note", f"at most {MAX_NOTE} characters")
    code = ""
    if outcome == REJECT:
        code = reason_code or ""
        if code not in REJECT_REASONS:
            raise InvalidFieldError("reason-code", "choose one of the rejection reasons")
    now = svc.clock.now()
    with svc.db.session() as session:
        found = session.get(ReviewItem, submission_id)
        if found is None:
            raise ReviewNotFoundError()
        values = {
            "decided_at": now,
            "outcome": outcome,
            "reason_code": code or None,
            "note": note.replace("\x00", "\ufffd"),
            "decided_by": user.operator_id,
            "decided_via": DecidedBy.REVIEW,
        }
        closed = review_repo.close_item(
            submission_id, values, session=session, operator_id=user.operator_id, now=now
        )
        if closed:
            verdicts.decide_held(
                svc, found, outcome, code, DecidedBy.REVIEW, user.operator_id, now, session=session
            )
            audit_repo.audit(
                user.actor,
                "review_decide",
                submission_id,
                session=session,
                reason=note,
                details={"outcome": outcome, "reasonCode": code, "similarity": found.similarity},
                source=source,
            )
    if not closed:
        current = _require_item(svc, submission_id)
        if current.state == ReviewState.OPEN and current.row.claim is not None:
            raise ReviewClaimedError(_held_message(current.row.claim, user))
        raise ReviewConflictError(_decided_text(current, user), decided_by=current.decided_by)


def _decided_text(found: ItemView, user: ConsoleUser) -> str:
    who = (
        "its deadline (default outcome)"
        if found.decided_via == DecidedBy.REVIEW_DEADLINE
        else found.decided_by or "another reviewer"
    )
    when = zones.show(found.decided_at, user.time_zone) if found.decided_at else "earlier"
    return f"already decided ({(found.outcome or '').lower()}) by {who} at {when}"
