"""The typed ORM: partners, partner sessions, submissions, jobs, the callback outbox, audit events,
the operator console's operators, sessions and review queue, and the hosted flow's liveness frames."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from facematch.rules import partner_settings
from facematch.rules.states import (
    DecidedBy,
    DeliveryState,
    Flow,
    JobState,
    LivenessMode,
    Locale,
    NextAction,
    ReasonCode,
    Result,
    ReviewOutcome,
    ReviewState,
    Source,
    SubmissionStatus,
    Theme,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC (SQLite has no time zones), returned as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class StateText(TypeDecorator[str]):
    """A state or code column: stored as its wire value in a VARCHAR (the DDL of the migrations is
    unchanged), read back as its enum member, and refused on write when it is not one, so a
    misspelt state fails in mypy and at the database's door alike."""

    impl = String
    cache_ok = True

    def __init__(self, states: type[StrEnum], length: int) -> None:
        super().__init__(length)
        self.states = states

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.states(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.states(value)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[str]: JSON()}  # noqa: RUF012


class Partner(Base):
    """A partner (client) with its credentials and per-partner settings."""

    __tablename__ = "partners"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    passkey_hash: Mapped[str] = mapped_column(String(64))
    previous_passkey_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    previous_passkey_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    token_generation: Mapped[int] = mapped_column(Integer, default=1)
    """Carried by every token minted for the partner; raised by a rotation or a disable, which
    revokes the tokens of older generations (the previous one lives as long as the previous pass-key)."""
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    onboarding_partners: Mapped[list[str]] = mapped_column(default=list)
    callback_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    callback_method: Mapped[str] = mapped_column(String(8), default="POST")
    callback_auth_name: Mapped[str | None] = mapped_column(String(200), default=None)
    callback_auth_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    callback_gone_at: Mapped[datetime | None] = mapped_column(default=None)
    webhook_secret_sealed: Mapped[str] = mapped_column(Text)
    reference_hosts: Mapped[list[str]] = mapped_column(default=list)
    reference_header_names: Mapped[list[str]] = mapped_column(default=list)
    reference_headers_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    frame_origins: Mapped[list[str]] = mapped_column(default=list)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    show_status_screen: Mapped[bool] = mapped_column(
        Boolean, default=partner_settings.default("show_status_screen")
    )
    allow_qr: Mapped[bool] = mapped_column(Boolean, default=partner_settings.default("allow_qr"))
    force_qr: Mapped[bool] = mapped_column(Boolean, default=partner_settings.default("force_qr"))
    privacy_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_capture: Mapped[bool] = mapped_column(Boolean, default=partner_settings.default("auto_capture"))
    retry_window_s: Mapped[int] = mapped_column(Integer, default=partner_settings.default("retry_window_s"))
    liveness: Mapped[LivenessMode] = mapped_column(
        StateText(LivenessMode, 16), default=partner_settings.default("liveness")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FlowSession(Base):
    """One partner session (x-partner-session-id): the user, the options, and its attempts."""

    __tablename__ = "flow_sessions"
    __table_args__ = (UniqueConstraint("partner_id", "partner_session_id", name="uq_session_partner_psid"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), index=True)
    partner_session_id: Mapped[str] = mapped_column(String(200), index=True)
    onboarding_partner: Mapped[str | None] = mapped_column(String(200), default=None)
    partner_user_id: Mapped[str] = mapped_column(String(200), index=True)
    partner_user_id_type: Mapped[str] = mapped_column(String(200))
    source: Mapped[Source] = mapped_column(StateText(Source, 16))
    interactive: Mapped[bool] = mapped_column(Boolean, default=False)
    flow: Mapped[Flow] = mapped_column(StateText(Flow, 32), default=Flow.FACE_MATCH)
    success_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    failure_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    theme: Mapped[Theme] = mapped_column(StateText(Theme, 16), default=Theme.NO_PREFERENCE)
    reference_image_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    user_locale: Mapped[Locale] = mapped_column(StateText(Locale, 8), default=Locale.ID)
    allow_qr: Mapped[bool] = mapped_column(Boolean, default=False)
    force_qr: Mapped[bool] = mapped_column(Boolean, default=False)
    portrait_only: Mapped[bool] = mapped_column(Boolean, default=True)
    refused_captures: Mapped[int] = mapped_column(Integer, default=0)
    """Web captures refused for want of a usable face (they use no attempt, so they are capped)."""
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False)
    """Made by a sandbox partner: its attempts may have forced outcomes and say so in their results."""
    liveness: Mapped[LivenessMode] = mapped_column(StateText(LivenessMode, 16), default=LivenessMode.OFF)
    """A head-move challenge before each selfie: the partner's, or asked for by Initiate Flow."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Submission(Base):
    """One attempt: uploads, processing state and the decision."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("session_id", "attempt", name="uq_submission_attempt"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), index=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("flow_sessions.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    submission_type: Mapped[str] = mapped_column(String(32), default="FACE_MATCH")
    sdk_session_id: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[SubmissionStatus] = mapped_column(
        StateText(SubmissionStatus, 16), default=SubmissionStatus.INITIATED
    )
    selfie_blob: Mapped[str | None] = mapped_column(String(64), default=None)
    reference_blob: Mapped[str | None] = mapped_column(String(64), default=None)
    metadata_json: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[Result | None] = mapped_column(StateText(Result, 16), default=None)
    reason_code: Mapped[ReasonCode | None] = mapped_column(StateText(ReasonCode, 64), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error_message: Mapped[str | None] = mapped_column(String(500), default=None)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    next_action: Mapped[NextAction | None] = mapped_column(StateText(NextAction, 16), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    images_purged_at: Mapped[datetime | None] = mapped_column(default=None)
    uploaded_at: Mapped[datetime | None] = mapped_column(default=None)
    similarity: Mapped[float | None] = mapped_column(Float, default=None)
    """The engine's cosine similarity (the threshold and review band are on this scale)."""
    analysis: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """What the engine saw, for the console: face boxes and landmarks in image pixels, quality."""
    liveness_challenge: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    """The head-move challenge and what answered it when (:mod:`facematch.flows.liveness`)."""
    liveness_blob: Mapped[str | None] = mapped_column(String(64), default=None)
    """A backend partner's challenge clip (encrypted), deleted once the verdict is in."""


class Job(Base):
    """Durable processing state of one submission: queued → running (leased) → done."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_due", "state", "available_at"),
        Index("ix_jobs_partner_state", "partner_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), unique=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", name="fk_jobs_partner_id_partners"))
    state: Mapped[JobState] = mapped_column(StateText(JobState, 16), default=JobState.QUEUED)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    """Claims of the job (a try handed back at a worker's shutdown is not counted)."""
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Tries that ended in an unexpected error (what ``submissions.job_max_tries`` bounds)."""
    crashes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Tries whose worker died (its lease lapsed); bounded apart, by ``submissions.job_max_crashes``."""
    transient_since: Mapped[datetime | None] = mapped_column(default=None)
    """Since when the job's tries fail because the image store or the database is unreachable
    (None: they do not); bounded by ``submissions.transient_budget_s``."""
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class OutboxMessage(Base):
    """A completion callback, written with the final result and delivered at least once."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the webhook-id
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), index=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[DeliveryState] = mapped_column(StateText(DeliveryState, 16), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)


class DeliveryAttempt(Base):
    """The delivery log: one row per callback attempt."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("outbox.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(32))
    http_status: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """Who read or changed what, when and why (biometric data access log, operator actions)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(String(64))
    submission_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    reason: Mapped[str | None] = mapped_column(String(500), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[str | None] = mapped_column(String(64), default=None)


class Handoff(Base):
    """A Smart QR link: single use (``used_at``), short-lived, stored as the SHA-256 of its code."""

    __tablename__ = "handoffs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("flow_sessions.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_generation: Mapped[int] = mapped_column(Integer, default=1)
    """The partner token generation of the desktop session that made the link."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class Operator(Base):
    """A console user: admin, reviewer or viewer; argon2id password, optional sealed TOTP secret."""

    __tablename__ = "operators"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_secret: Mapped[str | None] = mapped_column(String(300), default=None)
    """Sealed (AES-GCM), never in clear."""
    totp_enabled_at: Mapped[datetime | None] = mapped_column(default=None)
    totp_last_step: Mapped[int | None] = mapped_column(Integer, default=None)
    """The last accepted TOTP time step: a code is good once."""
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    time_zone: Mapped[str | None] = mapped_column(String(64), default=None)
    """The zone the console shows this operator's times in; None: the console's default."""


class OperatorSession(Base):
    """A console login, keyed by the SHA-256 of its cookie token (the token itself is never stored)."""

    __tablename__ = "operator_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    """``second_factor`` or ``enrol`` (password given, TOTP pending), ``active``."""
    csrf_token: Mapped[str] = mapped_column(String(64))
    totp_pending: Mapped[str | None] = mapped_column(String(300), default=None)
    """The sealed TOTP secret being enrolled (``enrol`` stage only)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    source: Mapped[str | None] = mapped_column(String(64), default=None)


class ReviewPolicy(Base):
    """A partner's review band (similarity, below the accept threshold), deadline and default outcome."""

    __tablename__ = "review_policies"

    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    band_low: Mapped[float] = mapped_column(Float)
    band_high: Mapped[float] = mapped_column(Float)
    deadline_s: Mapped[int | None] = mapped_column(Integer, default=None)
    """None: the console's default (console.review_deadline_s)."""
    default_outcome: Mapped[ReviewOutcome] = mapped_column(
        StateText(ReviewOutcome, 8), default=ReviewOutcome.REJECT
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewItem(Base):
    """A final attempt whose similarity fell in its partner's band: decided by a person (or its deadline)."""

    __tablename__ = "review_items"
    __table_args__ = (
        Index("ix_review_items_open", "state", "created_at"),
        Index("ix_review_items_due", "state", "due_at"),
    )

    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), index=True)
    state: Mapped[ReviewState] = mapped_column(StateText(ReviewState, 16), default=ReviewState.OPEN)
    similarity: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    band_low: Mapped[float] = mapped_column(Float)
    band_high: Mapped[float] = mapped_column(Float)
    default_outcome: Mapped[ReviewOutcome] = mapped_column(StateText(ReviewOutcome, 8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[ReviewOutcome | None] = mapped_column(StateText(ReviewOutcome, 8), default=None)
    reason_code: Mapped[ReasonCode | None] = mapped_column(StateText(ReasonCode, 64), default=None)
    note: Mapped[str | None] = mapped_column(String(1000), default=None)
    decided_by: Mapped[str | None] = mapped_column(String(36), default=None)
    """The reviewer's operator id (None when the deadline decided)."""
    decided_via: Mapped[DecidedBy | None] = mapped_column(StateText(DecidedBy, 16), default=None)
    """``REVIEW`` or ``REVIEW_DEADLINE``."""
    claimed_by: Mapped[str | None] = mapped_column(String(36), default=None)
    """The operator id of the reviewer who has the open item in front of them, until ``claimed_until``."""
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)


class LivenessFrame(Base):
    """A hosted-flow challenge frame as observed on arrival, until the verdict: its geometry (``seen``:
    faces, box, landmarks, yaw, size) and, in the blob store, its face's template and patch."""

    __tablename__ = "liveness_frames"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    nonce: Mapped[str] = mapped_column(String(64))
    at: Mapped[float] = mapped_column(Float)  # received, seconds since the epoch (the service's clock)
    size: Mapped[int] = mapped_column(Integer)  # bytes received (the challenge's upload budget)
    seen: Mapped[dict[str, Any]] = mapped_column(default=dict)
    blob: Mapped[str | None] = mapped_column(String(64), default=None)
