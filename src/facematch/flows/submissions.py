"""The user-side submission API: presigned upload URLs, uploads, confirm, status."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facematch.engine.liveness import Challenge
from facematch.errors import (
    ForbiddenError,
    ImageError,
    InvalidConfirmRequestError,
    InvalidSubmissionIdError,
    InvalidSubmissionTypeError,
    InvalidUploadArtifactError,
    LivenessClipRequiredError,
    SubmissionNotFoundError,
    SubmissionQuotaExceededError,
    SubmissionStateConflictError,
    UnauthorizedError,
)
from facematch.flows import gateway, liveness
from facematch.flows.context import Services
from facematch.flows.derivatives import make_derivative
from facematch.flows.gateway import require_header
from facematch.rules import sandbox, views
from facematch.rules.decisions import attempts_remaining, next_action_for
from facematch.rules.states import DECIDED, UNDECIDED, DocumentType, LivenessMode, Source, SubmissionStatus
from facematch.security.tokens import TokenKind
from facematch.storage import job_repo, submission_repo
from facematch.storage.blobs import discard
from facematch.storage.models import FlowSession, Partner, Submission, utcnow

DOCUMENT_TYPES = tuple(DocumentType)
#: the images every attempt takes (a session that asks for liveness adds the LIVENESS clip)
IMAGE_TYPES = (DocumentType.SELFIE, DocumentType.REFERENCE)
ACCEPTED_CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic", "image/heif")
T = TypeVar("T")
_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True, slots=True)
class UserRequest:
    """The headers every user-side submission call carries."""

    token: str | None
    partner_session_id: str | None
    sdk_session_id: str | None


@dataclass(frozen=True, slots=True)
class UploadSlot:
    url: str
    reference: str
    expiry_seconds: int
    max_bytes: int


@dataclass(frozen=True, slots=True)
class Presigned:
    submission_id: str
    status: str
    documents: dict[DocumentType, UploadSlot]
    challenge: Challenge | None = None
    """The head-move challenge the LIVENESS clip must show (the session asks for liveness)."""


def backend_session(
    partner: Partner, psid: str, onboarding_partner: str | None, user_id: str, user_id_type: str
) -> FlowSession:
    """A new backend-to-backend partner session (every attempt final; in the partner's environment)."""
    return FlowSession(
        id=str(uuid.uuid4()),
        partner_id=partner.id,
        partner_session_id=psid,
        onboarding_partner=onboarding_partner,
        partner_user_id=user_id,
        partner_user_id_type=user_id_type,
        source=Source.API,
        interactive=False,
        sandbox=partner.sandbox,
        liveness=partner.liveness,
    )


def _scope_session(
    scope: gateway.UserScope, psid: str, *, session: Session, create: bool
) -> FlowSession | None:
    """The partner session a user token may act on (created for backend-to-backend tokens)."""
    if scope.flow_session_id is not None:
        flow_session = session.get(FlowSession, scope.flow_session_id)
        if flow_session is None or flow_session.partner_session_id != psid:
            raise ForbiddenError("the token belongs to another session")
        return flow_session
    flow_session = submission_repo.flow_session_by_psid(scope.partner.id, psid, session=session)
    if flow_session is not None:
        if (flow_session.partner_user_id, flow_session.partner_user_id_type) != (
            scope.partner_user_id,
            scope.partner_user_id_type,
        ):
            raise ForbiddenError("the session belongs to another user")
        return flow_session
    if not create:
        return None
    flow_session = backend_session(
        scope.partner, psid, scope.onboarding_partner, scope.partner_user_id, scope.partner_user_id_type
    )
    try:
        with session.begin_nested():
            session.add(flow_session)
    except IntegrityError:  # another request created it first
        return _scope_session(scope, psid, session=session, create=False)
    return flow_session


def open_attempt(flow_session: FlowSession, partner: Partner, sdk: str, *, session: Session) -> Submission:
    """The session's open (unconfirmed) attempt, or a new one: the attempt rules of Get Presigned
    URLs, which the hosted flow's capture follows too. Refused while an attempt is being processed,
    once the attempts are used up, and after an interactive session's final result."""
    latest = submission_repo.latest_submission(flow_session.id, session=session)
    if latest is not None and latest.status == SubmissionStatus.INITIATED:
        latest.sdk_session_id = sdk
        return latest
    if latest is not None and latest.status in UNDECIDED:
        raise SubmissionStateConflictError("the previous attempt is still being processed")
    attempts = submission_repo.count_attempts(flow_session.id, session=session)
    if attempts >= partner.max_attempts:
        raise SubmissionQuotaExceededError()
    if latest is not None and latest.final and flow_session.interactive:
        raise SubmissionStateConflictError("the session already has its final result")
    submission = Submission(
        id=str(uuid.uuid4()),
        partner_id=partner.id,
        session_id=flow_session.id,
        attempt=attempts + 1,
        sdk_session_id=sdk,
        status=SubmissionStatus.INITIATED,
        metadata_json={},
        details={},
    )
    session.add(submission)
    try:
        session.flush()
    except IntegrityError:
        raise SubmissionStateConflictError("another attempt was created at the same time") from None
    return submission


def presign(svc: Services, request: UserRequest, submission_type: str | None) -> Presigned:
    """Get Presigned URLs: a new attempt (or the open one) with one signed PUT URL per document."""
    with svc.db.session() as session:
        scope = gateway.require_user(svc, request.token, session=session)
        psid = require_header("x-partner-session-id", request.partner_session_id)
        sdk = require_header("x-sdk-session-id", request.sdk_session_id)
        if submission_type != "FACE_MATCH":
            raise InvalidSubmissionTypeError()
        flow_session = _scope_session(scope, psid, session=session, create=True)
        assert flow_session is not None
        partner = scope.partner
        sandbox.check_environment(flow_session, partner)
        submission = open_attempt(flow_session, partner, sdk, session=session)
        live = flow_session.liveness == LivenessMode.ACTIVE
        ttl = svc.settings.tokens.upload_ttl_s
        documents = {}
        for doc in (*IMAGE_TYPES, DocumentType.LIVENESS) if live else IMAGE_TYPES:
            issued = svc.tokens.issue(
                TokenKind.UPLOAD, submission.id, ttl, doc=doc, pid=partner.id, gen=scope.token_generation
            )
            documents[doc] = UploadSlot(
                url=svc.links.upload(submission.id, doc, issued.token),
                reference=f"{submission.id}/{doc}",
                expiry_seconds=ttl,
                max_bytes=(
                    svc.settings.liveness.clip_max_bytes
                    if doc == DocumentType.LIVENESS
                    else svc.settings.engine.max_image_bytes
                ),
            )
        challenge = liveness.issue(svc, submission, session=session) if live else None
        return Presigned(submission.id, submission.status, documents, challenge)


def upload(
    svc: Services,
    submission_id: str,
    doc_type: str,
    signature: str | None,
    data: bytes,
    content_type: str | None,
    nonce: str | None = None,
) -> str:
    """Store one presigned upload (an image, re-encoded and encrypted; or the challenge clip, sent
    with the challenge's ``nonce``); returns its document reference."""
    claims = svc.tokens.verify(signature, TokenKind.UPLOAD)
    if claims["sub"] != submission_id or claims.get("doc") != doc_type:
        raise UnauthorizedError("the signature is for another upload")
    media = (content_type or "").split(";", 1)[0].strip().lower()
    accepted = liveness.CLIP_CONTENT_TYPES if doc_type == DocumentType.LIVENESS else ACCEPTED_CONTENT_TYPES
    if media and media != "application/octet-stream" and media not in accepted:
        raise InvalidUploadArtifactError(f"content type {media} is not accepted for {doc_type}")
    with svc.db.session() as session:
        partner_id = gateway.token_partner(claims.get("pid"), claims, session=session).id
    if doc_type == DocumentType.LIVENESS:
        return liveness.attach_clip(svc, partner_id, submission_id, nonce, data)
    try:
        derivative = svc.analysis.run(lambda: make_derivative(data, svc.settings), owner=partner_id)
    except ImageError as error:
        raise InvalidUploadArtifactError(f"{error.code}: {error.message}") from None
    return attach_document(svc, partner_id, submission_id, doc_type, derivative)


def record_image(
    svc: Services, derivative: bytes, record: Callable[[str, Session], tuple[T, str | None]]
) -> T:
    """Store a re-encoded image, then let ``record`` name it in one transaction: it gets the image's
    id and returns its result and the image it replaced (removed after the commit).

    The image is stored before a row names it: when the store fails (BlobStoreUnavailableError, 503)
    nothing is recorded, and when recording fails the stored image is removed again (or left as an
    orphan for the purge when the store is down by then)."""
    blob_id = svc.blobs.put(derivative)
    try:
        with svc.db.session() as session:
            result, replaced = record(blob_id, session)
    except BaseException:
        discard(svc.blobs, blob_id)
        raise
    if replaced:
        discard(svc.blobs, replaced)
    return result


def attach_document(
    svc: Services, partner_id: str, submission_id: str, doc_type: str, derivative: bytes
) -> str:
    """Store a re-encoded image as one document of an unconfirmed attempt (replacing an earlier
    upload of that document); returns its document reference."""

    def record(blob_id: str, session: Session) -> tuple[str, str | None]:
        submission = submission_repo.submission_of_partner(partner_id, submission_id, session=session)
        if submission is None:
            raise SubmissionNotFoundError()
        replaced = store_document(submission, doc_type, blob_id)
        if doc_type == DocumentType.SELFIE:
            liveness.note_selfie(submission, at=liveness.now_s(svc))
        return f"{submission_id}/{doc_type}", replaced

    return record_image(svc, derivative, record)


def store_document(submission: Submission, doc_type: str, blob_id: str) -> str | None:
    """Name a stored image as one document of an unconfirmed attempt; returns the image it replaces."""
    if submission.status != SubmissionStatus.INITIATED:
        raise SubmissionStateConflictError("the submission was already confirmed")
    if doc_type == DocumentType.SELFIE:
        old, submission.selfie_blob = submission.selfie_blob, blob_id
    else:
        old, submission.reference_blob = submission.reference_blob, blob_id
    submission.uploaded_at = utcnow()
    return old


def _user_submission(
    scope: gateway.UserScope, psid: str, submission_id: str, *, session: Session
) -> tuple[Submission, FlowSession]:
    """The submission if this user token may see it; SubmissionNotFoundError otherwise (no leaks)."""
    found = submission_repo.submission_and_session(scope.partner.id, submission_id, session=session)
    if found is None:
        raise SubmissionNotFoundError()
    submission, flow_session = found
    if (
        flow_session.partner_session_id != psid
        or (scope.flow_session_id is not None and scope.flow_session_id != flow_session.id)
        or flow_session.partner_user_id != scope.partner_user_id
        or flow_session.partner_user_id_type != scope.partner_user_id_type
    ):
        raise SubmissionNotFoundError()
    return submission, flow_session


def confirm(svc: Services, request: UserRequest, body: Any) -> str:
    """Confirm Upload: the submission becomes IN_PROGRESS and its job is durable before we answer."""
    with svc.db.session() as session:
        scope = gateway.require_user(svc, request.token, session=session)
        psid = require_header("x-partner-session-id", request.partner_session_id)
        sdk = require_header("x-sdk-session-id", request.sdk_session_id)
        if not isinstance(body, dict):
            raise InvalidConfirmRequestError()
        submission_id = body.get("submissionId")
        metadata = body.get("metadata")
        if not isinstance(submission_id, str) or not submission_id or len(submission_id) > 64:
            raise InvalidConfirmRequestError("submissionId is required")
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidConfirmRequestError("metadata must be an object")
        submission, flow_session = _user_submission(scope, psid, submission_id, session=session)
        if submission.sdk_session_id != sdk:
            raise ForbiddenError("the submission belongs to another SDK session")
        if flow_session.liveness == LivenessMode.ACTIVE and not submission.liveness_blob:
            raise LivenessClipRequiredError()
        confirm_attempt(submission, flow_session, metadata or {}, session=session, now=svc.clock.now())
    svc.doorbell.ring()
    return submission_id


def confirm_attempt(
    submission: Submission,
    flow_session: FlowSession,
    metadata: dict[str, Any],
    *,
    session: Session,
    now: datetime,
) -> None:
    """The attempt becomes IN_PROGRESS at ``now`` and its job, due then, is written in the same
    transaction (so a confirmed attempt is never without its job); the caller wakes its queue after
    the commit."""
    if submission.status != SubmissionStatus.INITIATED:
        raise SubmissionStateConflictError("the submission was already confirmed")
    if not submission.selfie_blob:
        raise InvalidUploadArtifactError("the SELFIE document was not uploaded")
    confirmed = {"status": SubmissionStatus.IN_PROGRESS, "confirmed_at": now, "metadata_json": metadata}
    if not submission_repo.move_attempt(
        submission.id, SubmissionStatus.INITIATED, confirmed, session=session
    ):
        raise SubmissionStateConflictError("the submission was already confirmed")
    job_repo.enqueue_job(
        submission.id,
        submission.partner_id,
        session=session,
        delay_s=sandbox.processing_delay_s(flow_session),
        now=now,
    )


def attempt_next_action(
    submission: Submission, flow_session: FlowSession, partner: Partner, attempts: int
) -> str | None:
    """The stored next action of a decided attempt (None while undecided)."""
    if submission.status not in DECIDED:
        return None
    if submission.next_action:
        return submission.next_action
    return next_action_for(
        submission.status,
        submission.reason_code,
        interactive=flow_session.interactive,
        attempts_used=attempts,
        partner=partner,
    ).value


def status(svc: Services, request: UserRequest, submission_id: str) -> dict[str, Any]:
    """Get Submission Status (user token), with ``nextAction``."""
    with svc.db.session() as session:
        scope = gateway.require_user(svc, request.token, session=session)
        psid = require_header("x-partner-session-id", request.partner_session_id)
        require_header("x-sdk-session-id", request.sdk_session_id)
        if not _ID.match(submission_id):
            raise InvalidSubmissionIdError()
        submission, flow_session = _user_submission(scope, psid, submission_id, session=session)
        every_attempt = submission_repo.session_attempts(flow_session.id, session=session)
        attempts = len(every_attempt)
        action = attempt_next_action(submission, flow_session, scope.partner, attempts)
        remaining = attempts_remaining(
            scope.partner.max_attempts, attempts, session_final=any(a.final for a in every_attempt)
        )
        data = views.status_data(
            submission, next_action=action, attempts_used=attempts, attempts_remaining=remaining
        )
        return views.with_progress(data, flow_session, every_attempt)


__all__ = ["Presigned", "UploadSlot", "UserRequest", "confirm", "presign", "status", "upload"]
