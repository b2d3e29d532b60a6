"""The backend-to-backend submission flow called directly: presign, upload, confirm, status."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from facematch.engine.fake import fake_face_image
from facematch.errors import (
    InvalidSubmissionTypeError,
    InvalidUploadArtifactError,
    SubmissionNotFoundError,
    SubmissionStateConflictError,
    UnauthorizedError,
)
from facematch.flows import submissions
from facematch.flows.context import Services
from facematch.rules.states import DocumentType, JobState, SubmissionStatus
from facematch.storage.models import Job, Submission
from servicekit import create_partner, user_token


def _request(svc: Services, user: str = "u") -> submissions.UserRequest:
    return submissions.UserRequest(user_token(svc, create_partner(svc.db), user), "psid-1", "sdk-1")


def _signature(slot: submissions.UploadSlot) -> str:
    return parse_qs(urlsplit(slot.url).query)["signature"][0]


def _upload(svc: Services, presigned: submissions.Presigned, doc: DocumentType, data: bytes) -> str:
    slot = presigned.documents[doc]
    return submissions.upload(svc, presigned.submission_id, doc, _signature(slot), data, "image/jpeg")


def test_presign_upload_and_confirm_leave_a_job_and_a_re_encoded_selfie(fake_services: Services) -> None:
    svc = fake_services
    request = _request(svc)
    presigned = submissions.presign(svc, request, "FACE_MATCH")
    assert (presigned.status, set(presigned.documents)) == (
        "INITIATED",
        {DocumentType.SELFIE, DocumentType.REFERENCE},
    )
    original = fake_face_image(3, fmt="JPEG")
    assert _upload(svc, presigned, DocumentType.SELFIE, original) == f"{presigned.submission_id}/SELFIE"
    _upload(svc, presigned, DocumentType.REFERENCE, fake_face_image(3))
    body = {"submissionId": presigned.submission_id, "metadata": {"channel": "app"}}
    assert submissions.confirm(svc, request, body) == presigned.submission_id
    with svc.db.session() as session:
        submission = session.get(Submission, presigned.submission_id)
        job = session.query(Job).filter_by(submission_id=presigned.submission_id).one_or_none()
        assert submission is not None and job is not None
        assert (submission.status, submission.metadata_json, job.state) == (
            SubmissionStatus.IN_PROGRESS,
            {"channel": "app"},
            JobState.QUEUED,
        )
        stored = svc.blobs.get(submission.selfie_blob or "")
    assert stored != original and stored.startswith(b"\xff\xd8")  # a derivative, not the upload
    answer = submissions.status(svc, request, presigned.submission_id)
    assert answer["status"] == "IN_PROGRESS"


def test_presign_asks_for_the_face_match_type(fake_services: Services) -> None:
    with pytest.raises(InvalidSubmissionTypeError):
        submissions.presign(fake_services, _request(fake_services), "OCR")


def test_an_upload_signature_opens_only_its_own_document(fake_services: Services) -> None:
    svc = fake_services
    presigned = submissions.presign(svc, _request(svc), "FACE_MATCH")
    selfie_signature = _signature(presigned.documents[DocumentType.SELFIE])
    with pytest.raises(UnauthorizedError):
        submissions.upload(
            svc, presigned.submission_id, DocumentType.REFERENCE, selfie_signature, fake_face_image(1), None
        )


def test_an_upload_that_is_no_image_is_refused_and_nothing_is_stored(fake_services: Services) -> None:
    svc = fake_services
    presigned = submissions.presign(svc, _request(svc), "FACE_MATCH")
    with pytest.raises(InvalidUploadArtifactError):
        _upload(svc, presigned, DocumentType.SELFIE, b"%PDF-1.7 not a photo")
    with svc.db.session() as session:
        submission = session.get(Submission, presigned.submission_id)
        assert submission is not None and submission.selfie_blob is None


def test_confirm_needs_the_selfie_and_happens_once(fake_services: Services) -> None:
    svc = fake_services
    request = _request(svc)
    presigned = submissions.presign(svc, request, "FACE_MATCH")
    body = {"submissionId": presigned.submission_id}
    with pytest.raises(InvalidUploadArtifactError):
        submissions.confirm(svc, request, body)
    _upload(svc, presigned, DocumentType.SELFIE, fake_face_image(1))
    submissions.confirm(svc, request, body)
    with pytest.raises(SubmissionStateConflictError):
        submissions.confirm(svc, request, body)


def test_another_users_token_does_not_find_the_submission(fake_services: Services) -> None:
    svc = fake_services
    creds = create_partner(svc.db)
    owner = submissions.UserRequest(user_token(svc, creds, "alice"), "psid-1", "sdk-1")
    other = submissions.UserRequest(user_token(svc, creds, "mallory"), "psid-1", "sdk-1")
    presigned = submissions.presign(svc, owner, "FACE_MATCH")
    with pytest.raises(SubmissionNotFoundError):
        submissions.status(svc, other, presigned.submission_id)
    with pytest.raises(SubmissionNotFoundError):
        submissions.confirm(svc, other, {"submissionId": presigned.submission_id})
