"""The partner-side reads: Get Submission Details and the signed selfie URL behind it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from facematch.errors import (
    MissingFieldError,
    SessionUserMismatchError,
    SubmissionNotFoundError,
    UnauthorizedError,
)
from facematch.flows import gateway
from facematch.flows.context import Services
from facematch.rules import views
from facematch.rules.states import DocumentType, SubmissionStatus
from facematch.security.tokens import TokenKind
from facematch.storage import audit_repo, submission_repo
from facematch.storage.blobs import BlobNotFoundError
from facematch.storage.models import FlowSession, Submission


@dataclass(frozen=True, slots=True)
class DetailsRequest:
    token: str | None
    partner_session_id: str | None
    submission_id: str | None
    partner_user_id: str | None
    partner_user_id_type: str | None


def _selfie_url(svc: Services, submission: Submission, generation: int) -> str | None:
    if not submission.selfie_blob or submission.images_purged_at is not None:
        return None
    issued = svc.tokens.issue(
        TokenKind.IMAGE,
        submission.id,
        svc.settings.tokens.image_url_ttl_s,
        pid=submission.partner_id,
        doc=DocumentType.SELFIE,
        gen=generation,
    )
    return svc.links.selfie_image(submission.id, issued.token)


def _render(svc: Services, submission: Submission, generation: int, *, session: Session) -> dict[str, Any]:
    flow_session = session.get(FlowSession, submission.session_id)
    assert flow_session is not None
    data = views.details_data(submission, flow_session, selfie_url=_selfie_url(svc, submission, generation))
    if data["status"] != SubmissionStatus.IN_PROGRESS:
        return data  # a final verdict reads as it always did
    return views.with_progress(
        data, flow_session, submission_repo.session_attempts(flow_session.id, session=session)
    )


def details_for_partner(svc: Services, caller: gateway.PartnerCaller, submission_id: str) -> dict[str, Any]:
    with svc.db.session() as session:
        submission = submission_repo.submission_of_partner(caller.partner.id, submission_id, session=session)
        if submission is None:
            raise SubmissionNotFoundError()
        return _render(svc, submission, caller.token_generation, session=session)


def details(svc: Services, request: DetailsRequest) -> dict[str, Any]:
    """Get Submission Details by x-submission-id and/or x-partner-session-id (the latest attempt)."""
    with svc.db.session() as session:
        caller = gateway.require_partner_caller(svc, request.token, session=session)
        partner = caller.partner
        psid = (request.partner_session_id or "").strip()
        sid = (request.submission_id or "").strip()
        if not psid and not sid:
            raise MissingFieldError("x-partner-session-id", code="PARTNER_SESSION_ID_CANNOT_BE_EMPTY")
        uid, uidt = request.partner_user_id, request.partner_user_id_type
        if bool(uid) != bool(uidt):
            raise MissingFieldError("partner-user-id" if not uid else "partner-user-id-type")
        flow_session: FlowSession | None = None
        if psid:
            flow_session = submission_repo.flow_session_by_psid(partner.id, psid, session=session)
            if flow_session is None:
                raise SubmissionNotFoundError()
        if sid:
            submission = submission_repo.submission_of_partner(partner.id, sid, session=session)
            if submission is None or (flow_session is not None and submission.session_id != flow_session.id):
                raise SubmissionNotFoundError()
        else:
            assert flow_session is not None
            latest = submission_repo.latest_submission(flow_session.id, session=session)
            if latest is None:
                raise SubmissionNotFoundError()
            submission = latest
        owner = session.get(FlowSession, submission.session_id)
        assert owner is not None
        if uid and (owner.partner_user_id, owner.partner_user_id_type) != (uid, uidt):
            raise SessionUserMismatchError()
        audit_repo.audit(f"partner:{partner.id}", "read_details", submission.id, session=session)
        return _render(svc, submission, caller.token_generation, session=session)


def selfie_image(svc: Services, submission_id: str, signature: str | None) -> bytes:
    """The stored selfie derivative behind a signed image URL (JPEG)."""
    claims = svc.tokens.verify(signature, TokenKind.IMAGE)
    if claims["sub"] != submission_id or claims.get("doc") != DocumentType.SELFIE:
        raise UnauthorizedError("the signature is for another image")
    with svc.db.session() as session:
        partner = gateway.token_partner(claims.get("pid"), claims, session=session)
        submission = submission_repo.submission_of_partner(partner.id, submission_id, session=session)
        if submission is None or not submission.selfie_blob or submission.images_purged_at is not None:
            raise SubmissionNotFoundError()
        blob = submission.selfie_blob
        audit_repo.audit(f"partner:{partner.id}", "read_selfie", submission.id, session=session)
    try:
        return svc.blobs.get(blob)
    except BlobNotFoundError:
        raise SubmissionNotFoundError() from None
