"""What the console shows of submissions (search, the one search box, detail, timeline), callbacks
and the audit trail. Images are :mod:`facematch.flows.console.images`'s, CSV exports
:mod:`facematch.flows.console.exports`'.

Every role sees every partner's records (the console has no per-partner operators); the one search
box goes through the same query as the filters, so it finds what the filters would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from facematch.errors import (
    InvalidFieldError,
    SubmissionNotFoundError,
)
from facematch.flows import outbox
from facematch.flows.console import desk
from facematch.flows.console.images import DOCUMENTS
from facematch.flows.console.operators import ConsoleUser, Permission
from facematch.flows.context import Services
from facematch.rules.review_band import APPROVE, Band
from facematch.rules.states import DeliveryState, Result, ReviewOutcome
from facematch.storage import audit_repo, console_queries, operator_repo, review_repo, submission_repo
from facematch.storage.console_queries import AuditFilter, CallbackFilter, SubmissionFilter
from facematch.storage.models import (
    AuditEvent,
    DeliveryAttempt,
    FlowSession,
    OutboxMessage,
    Partner,
    Submission,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


@dataclass(frozen=True, slots=True)
class SubmissionRow:
    id: str
    partner_id: str
    partner_name: str
    partner_session_id: str
    user_id: str
    attempt: int
    status: str
    result: str | None
    reason_code: str | None
    similarity: float | None
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    at: datetime
    label: str
    detail: str = ""
    tone: str = ""
    """``ok``, ``bad``, ``warn`` or empty: how the console colours it."""


@dataclass(frozen=True, slots=True)
class CallbackView:
    id: str
    partner_id: str
    partner_name: str
    submission_id: str
    status: str
    attempts: int
    """Every delivery attempt of the message, resends included (the delivery log's length)."""
    scheduled: int
    """Attempts on its current schedule (since the last resend)."""
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    log: list[DeliveryAttempt]


@dataclass(frozen=True, slots=True)
class AuditView:
    id: int
    at: datetime
    actor: str
    actor_label: str
    """The operator's e-mail or the partner's name, where the actor is one."""
    action: str
    submission_id: str | None
    reason: str | None
    details: dict[str, Any]
    source: str | None
    partner_name: str | None = None
    """The partner the event is about (the actor, or ``partnerId`` in its details)."""


@dataclass(frozen=True, slots=True)
class Detail:
    """Everything the submission page shows (no image bytes)."""

    submission: Submission
    flow_session: FlowSession
    partner: Partner
    attempts_used: int
    face_match: dict[str, Any]
    analysis: dict[str, Any]
    quality: list[tuple[str, str]]
    """(image, reason code) pairs of quality and validation failures."""
    band: Band | None
    review: desk.ItemView | None
    callbacks: list[CallbackView]
    timeline: list[TimelineEvent]
    access: list[AuditView]
    images: list[str] = field(default_factory=list)
    """The stored images that can be viewed (``selfie``, ``reference``)."""


def _row(submission: Submission, flow_session: FlowSession, partner_name: str) -> SubmissionRow:
    return SubmissionRow(
        id=submission.id,
        partner_id=submission.partner_id,
        partner_name=partner_name,
        partner_session_id=flow_session.partner_session_id,
        user_id=flow_session.partner_user_id,
        attempt=submission.attempt,
        status=submission.status,
        result=submission.result,
        reason_code=submission.reason_code,
        similarity=submission.similarity,
        created_at=submission.created_at,
        completed_at=submission.completed_at,
    )


def _window(svc: Services, page: int) -> tuple[int, int, int]:
    """(page, page size, offset) of a 1-based page number."""
    page, size = max(1, page), svc.settings.console.page_size
    return page, size, (page - 1) * size


def find_submissions(svc: Services, user: ConsoleUser, f: SubmissionFilter, page: int) -> Page[SubmissionRow]:
    user.require(Permission.READ)
    page, size, offset = _window(svc, page)
    with svc.db.session() as session:
        rows = console_queries.search_submissions(f, session=session, limit=size, offset=offset)
        total = console_queries.count_submissions(f, session=session)
        return Page([_row(*row) for row in rows], total, page, size)


def _callbacks(
    rows: list[tuple[OutboxMessage, str]], attempts: dict[str, list[DeliveryAttempt]]
) -> list[CallbackView]:
    return [
        CallbackView(
            id=message.id,
            partner_id=message.partner_id,
            partner_name=name,
            submission_id=message.submission_id,
            status=message.status,
            attempts=len(attempts.get(message.id, [])),
            scheduled=message.attempts,
            next_attempt_at=message.next_attempt_at if message.status == DeliveryState.PENDING else None,
            last_error=message.last_error,
            created_at=message.created_at,
            delivered_at=message.delivered_at,
            log=attempts.get(message.id, []),
        )
        for message, name in rows
    ]


def audit_views(events: list[AuditEvent], *, session: Any) -> list[AuditView]:
    ids = {e.actor.split(":", 1)[1] for e in events if e.actor.startswith("operator:")}
    emails = operator_repo.operator_emails(ids, session=session)
    partners_of = {e.id: _partner_of(e) for e in events}
    names = console_queries.partner_names({p for p in partners_of.values() if p}, session=session)

    def label(actor: str) -> str:
        kind, _, ident = actor.partition(":")
        if kind == "operator":
            return emails.get(ident, actor)
        return names.get(ident, actor) if kind == "partner" else actor

    return [
        AuditView(
            e.id,
            e.at,
            e.actor,
            label(e.actor),
            e.action,
            e.submission_id,
            e.reason,
            e.details,
            e.source,
            names.get(partners_of[e.id] or ""),
        )
        for e in events
    ]


def _partner_of(event: AuditEvent) -> str | None:
    if event.actor.startswith("partner:"):
        return event.actor.split(":", 1)[1]
    value = (event.details or {}).get("partnerId")
    return value if isinstance(value, str) else None


def _quality(submission: Submission, analysis: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    selfie = submission.details.get("selfieValidation") or {}
    if selfie.get("verificationReasonCode"):
        found.append(("selfie", str(selfie["verificationReasonCode"])))
    ktp = (
        (submission.details.get("verificationResults") or {})
        .get("referenceImageValidation", {})
        .get("ktp", {})
    )
    if ktp.get("verificationReasonCode"):
        found.append(("reference", str(ktp["verificationReasonCode"])))
    kind = (submission.details.get("referenceImage") or {}).get("failureKind")
    if kind:
        found.append(("reference", f"FETCH_{kind}"))
    for doc in DOCUMENTS:
        for reason in (analysis.get(doc) or {}).get("qualityReasons", []):
            found.append((doc, str(reason)))
    return found


def _timeline(
    submission: Submission, item: desk.ItemView | None, callbacks: list[CallbackView]
) -> list[TimelineEvent]:
    """What happened to the attempt, oldest first."""
    events = [TimelineEvent(submission.created_at, "Initiated", f"attempt {submission.attempt}")]
    if submission.uploaded_at:
        events.append(TimelineEvent(submission.uploaded_at, "Uploaded"))
    challenge = submission.liveness_challenge or {}
    if "issuedAt" in challenge:  # the head-move challenge (its clip and frames are gone after the verdict)
        issued = datetime.fromtimestamp(float(challenge["issuedAt"]), UTC)
        events.append(
            TimelineEvent(issued, "Liveness challenge issued", " → ".join(challenge.get("moves", [])))
        )
    if submission.confirmed_at:
        events.append(TimelineEvent(submission.confirmed_at, "Confirmed", "queued for the engine"))
    if item is not None:
        events.append(
            TimelineEvent(
                item.row.created_at,
                "Processed: held for review",
                f"similarity {item.row.similarity:.3f} in the review band "
                f"{item.row.band_low:.3f}–{item.row.band_top:.3f} (below the threshold "
                f"{item.row.threshold:.3f})",
                "warn",
            )
        )
        if item.decided_at is not None:
            who = item.decided_by or "the deadline (default outcome)"
            tone = "ok" if item.outcome == APPROVE else "bad"
            text = f"{(item.outcome or '').lower()} by {who}"
            if item.reason_code:
                text += f" ({item.reason_code})"
            events.append(TimelineEvent(item.decided_at, "Reviewed", f"{text}: {item.note or ''}", tone))
    elif submission.completed_at:
        outcome = " / ".join(v for v in (submission.status, submission.result, submission.reason_code) if v)
        tone = "ok" if submission.result == Result.VALID else "bad"
        events.append(TimelineEvent(submission.completed_at, "Processed", outcome, tone))
    for callback in callbacks:
        events.append(TimelineEvent(callback.created_at, "Callback written", callback.id))
        for attempt in callback.log:
            status = f"HTTP {attempt.http_status}" if attempt.http_status is not None else attempt.error or ""
            tone = "ok" if attempt.outcome == "DELIVERED" else "bad"
            events.append(
                TimelineEvent(
                    attempt.at,
                    f"Callback attempt {attempt.attempt}",
                    f"{attempt.outcome} {status} ({attempt.duration_ms:.0f} ms)",
                    tone,
                )
            )
    if submission.images_purged_at:
        events.append(
            TimelineEvent(submission.images_purged_at, "Images deleted", "retention (facematch purge)")
        )
    return sorted(events, key=lambda e: e.at)


def submission_detail(svc: Services, user: ConsoleUser, submission_id: str, *, source: str) -> Detail:
    """The submission page's data; the read itself is audited."""
    user.require(Permission.READ)
    found_review = desk.item(svc, submission_id)
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        if submission is None:
            raise SubmissionNotFoundError()
        flow_session = session.get(FlowSession, submission.session_id)
        partner = session.get(Partner, submission.partner_id)
        assert flow_session is not None and partner is not None
        messages = console_queries.list_callbacks(
            CallbackFilter(submission_id=submission.id), session=session, limit=10
        )
        callbacks = _callbacks(
            messages, console_queries.attempts_of([m.id for m, _ in messages], session=session)
        )
        if found_review is not None:
            r = found_review.row
            band: Band | None = Band(r.band_low, r.band_top, None, ReviewOutcome(r.default_outcome))
        else:
            band = review_repo.band_of(partner.id, session=session)
        access = audit_views(
            console_queries.audit_of_submission(submission.id, session=session), session=session
        )
        audit_repo.audit(user.actor, "read_details", submission.id, session=session, source=source)
        attempts = submission_repo.count_attempts(flow_session.id, session=session)
        session.expunge_all()
    analysis = dict(submission.analysis or {})
    face_match = dict((submission.details.get("verificationResults") or {}).get("faceMatch") or {})
    blobs = (submission.selfie_blob, submission.reference_blob) if submission.images_purged_at is None else ()
    images = [doc for doc, blob in zip(DOCUMENTS, blobs, strict=False) if blob]
    return Detail(
        submission=submission,
        flow_session=flow_session,
        partner=partner,
        attempts_used=attempts,
        face_match=face_match,
        analysis=analysis,
        quality=_quality(submission, analysis),
        band=band,
        review=found_review,
        callbacks=callbacks,
        timeline=_timeline(submission, found_review, callbacks),
        access=[
            a
            for a in access
            if a.action in ("view_images", "review_decide", "review_default", "purge_images")
        ],
        images=images,
    )


def find_callbacks(svc: Services, user: ConsoleUser, f: CallbackFilter, page: int) -> Page[CallbackView]:
    user.require(Permission.READ)
    page, size, offset = _window(svc, page)
    with svc.db.session() as session:
        rows = console_queries.list_callbacks(f, session=session, limit=size, offset=offset)
        total = console_queries.count_callbacks(f, session=session)
        attempts = console_queries.attempts_of([m.id for m, _ in rows], session=session)
        return Page(_callbacks(rows, attempts), total, page, size)


def resend_callbacks(svc: Services, user: ConsoleUser, message_ids: list[str], *, source: str) -> int:
    """Put messages back on a fresh schedule (same ``webhook-id``); each resend is audited."""
    user.require(Permission.RESEND_CALLBACKS)
    if not message_ids:
        raise InvalidFieldError("messages", "select at least one callback")
    for message_id in message_ids:
        outbox.resend(svc, message_id)
        with svc.db.session() as session:
            message = session.get(OutboxMessage, message_id)
            assert message is not None
            audit_repo.audit(
                user.actor,
                "callback_resend",
                message.submission_id,
                session=session,
                details={"messageId": message_id},
                source=source,
            )
    return len(message_ids)


def find_audit(svc: Services, user: ConsoleUser, f: AuditFilter, page: int) -> Page[AuditView]:
    user.require(Permission.READ)
    page, size, offset = _window(svc, page)
    with svc.db.session() as session:
        rows = console_queries.list_audit(f, session=session, limit=size, offset=offset)
        total = console_queries.count_audit(f, session=session)
        return Page(audit_views(rows, session=session), total, page, size)


def audit_actions(svc: Services) -> list[str]:
    with svc.db.session() as session:
        return console_queries.audit_actions(session=session)
