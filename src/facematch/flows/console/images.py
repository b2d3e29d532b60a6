"""Who may see a submission's images, and when.

No image leaves storage without an operator action that records its reason: :func:`grant_images`
checks the role, writes the ``view_images`` audit event (who, when, which submission, why) and mints
image tokens that live ``console.image_url_ttl_s`` and only work with that operator's session;
:func:`image` serves one and records it too. Opening a review item
(:func:`facematch.flows.console.desk.sheet`) is such an action, with the review as its reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from facematch.errors import (
    InvalidFieldError,
    PermissionDeniedError,
    SubmissionNotFoundError,
    UnauthorizedError,
)
from facematch.flows.console.operators import ConsoleUser, Permission
from facematch.flows.context import Services
from facematch.security.tokens import TokenKind
from facematch.storage import audit_repo
from facematch.storage.blobs import BlobNotFoundError
from facematch.storage.models import Submission

DOCUMENTS = ("selfie", "reference")
MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class ImageGrant:
    tokens: dict[str, str]
    """Document (``selfie``, ``reference``) → token of its console image URL."""
    ttl_s: int


def grant_images(
    svc: Services,
    user: ConsoleUser,
    submission_id: str,
    reason: str,
    *,
    source: str,
    action: str = "view_images",
) -> ImageGrant:
    """Let this operator's session see the submission's stored images for a short while, saying why."""
    user.require(Permission.VIEW_IMAGES)
    reason = reason.strip()
    if not reason:
        raise InvalidFieldError(
            "reason", "say why you need to see the images (it is kept in the audit trail)"
        )
    if len(reason) > MAX_REASON:
        raise InvalidFieldError("reason", f"at most {MAX_REASON} characters")
    ttl = svc.settings.console.image_url_ttl_s
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        if submission is None:
            raise SubmissionNotFoundError()
        stored = dict(zip(DOCUMENTS, (submission.selfie_blob, submission.reference_blob), strict=True))
        available = [doc for doc, blob in stored.items() if blob and submission.images_purged_at is None]
        if not available:
            raise SubmissionNotFoundError("the images of this submission were deleted")
        audit_repo.audit(
            user.actor,
            action,
            submission_id,
            session=session,
            reason=reason,
            details={"images": available},
            source=source,
        )
    tokens = {
        doc: svc.tokens.issue(TokenKind.CONSOLE_IMAGE, submission_id, ttl, doc=doc, ses=user.session_id).token
        for doc in available
    }
    return ImageGrant(tokens, ttl)


def image(
    svc: Services, user: ConsoleUser, submission_id: str, doc: str, token: str | None, *, source: str
) -> bytes:
    """One granted image: the token must name this image and this operator session."""
    user.require(Permission.VIEW_IMAGES)
    claims = svc.tokens.verify(token, TokenKind.CONSOLE_IMAGE)
    if claims["sub"] != submission_id or claims.get("doc") != doc:
        raise UnauthorizedError("the image URL is for another image")
    if claims.get("ses") != user.session_id:
        raise PermissionDeniedError("the image URL belongs to another session")
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        blob = None
        if submission is not None and submission.images_purged_at is None:
            blob = submission.selfie_blob if doc == "selfie" else submission.reference_blob
        if blob is None:
            raise SubmissionNotFoundError()
        audit_repo.audit(
            user.actor, "read_image", submission_id, session=session, details={"image": doc}, source=source
        )
    try:
        return svc.blobs.get(blob)
    except BlobNotFoundError:
        raise SubmissionNotFoundError() from None
