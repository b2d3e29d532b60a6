"""The processing job called directly: a confirmed attempt's stored images become its decision."""

from __future__ import annotations

import pytest

from facematch.engine.fake import fake_face_image
from facematch.flows import processing
from facematch.flows.context import Services
from facematch.rules.states import JobState, ReasonCode, Result, SubmissionStatus
from facematch.storage.models import Job, OutboxMessage, Submission
from servicekit import seed_confirmed


def _outcome(svc: Services, submission_id: str) -> tuple[str, str | None, str | None, JobState, int]:
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        job = session.query(Job).filter_by(submission_id=submission_id).one()
        messages = session.query(OutboxMessage).filter_by(submission_id=submission_id).count()
        assert submission is not None
        return submission.status, submission.result, submission.reason_code, job.state, messages


@pytest.mark.parametrize(
    ("reference_person", "result", "reason"),
    [(4, Result.VALID, ReasonCode.NONE), (5, Result.INVALID, ReasonCode.FACE_MATCH_FAILED)],
)
def test_a_confirmed_attempt_is_decided_once_with_one_callback(
    fake_services: Services, reference_person: int, result: Result, reason: ReasonCode
) -> None:
    svc = fake_services
    submission_id = seed_confirmed(svc, fake_face_image(4, fmt="JPEG"), fake_face_image(reference_person))
    processing.process_submission(svc, submission_id)
    assert _outcome(svc, submission_id) == (SubmissionStatus.COMPLETED, result, reason, JobState.DONE, 1)
    processing.process_submission(svc, submission_id)  # a job run twice decides nothing more
    assert _outcome(svc, submission_id)[4] == 1


def test_without_a_selfie_the_document_is_not_found(fake_services: Services) -> None:
    svc = fake_services
    submission_id = seed_confirmed(svc, None, fake_face_image(1))
    processing.process_submission(svc, submission_id)
    assert _outcome(svc, submission_id)[:3] == (
        SubmissionStatus.COMPLETED,
        Result.INVALID,
        ReasonCode.DOCUMENT_NOT_FOUND,
    )


def test_a_selfie_without_a_face_is_a_photo_problem_not_a_mismatch(fake_services: Services) -> None:
    svc = fake_services
    submission_id = seed_confirmed(svc, fake_face_image(1, faces=0), fake_face_image(1))
    processing.process_submission(svc, submission_id)
    status, result, reason, _, _ = _outcome(svc, submission_id)
    assert (status, result) == (SubmissionStatus.COMPLETED, Result.INVALID)
    assert reason not in (ReasonCode.NONE, ReasonCode.FACE_MATCH_FAILED)


def test_an_image_gone_from_the_store_ends_in_an_error_not_a_hang(fake_services: Services) -> None:
    svc = fake_services
    submission_id = seed_confirmed(svc, fake_face_image(1), fake_face_image(1))
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None and submission.selfie_blob is not None
        svc.blobs.delete(submission.selfie_blob)
    processing.process_submission(svc, submission_id)
    status, result, _, job_state, messages = _outcome(svc, submission_id)
    assert (status, job_state, messages) == (SubmissionStatus.ERROR, JobState.DONE, 1)
    assert result != Result.VALID
