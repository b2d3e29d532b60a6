"""Get Submission Details called directly: found by submission id or partner session id, only by
its partner, every read audited; the selfie URL opens only its own image."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from facematch.engine.fake import fake_face_image
from facematch.errors import (
    MissingFieldError,
    SessionUserMismatchError,
    SubmissionNotFoundError,
    UnauthorizedError,
)
from facematch.flows import gateway, processing, results
from facematch.flows.context import Services
from facematch.storage.models import AuditEvent, FlowSession, Submission
from servicekit import PartnerCreds, create_partner, seed_submission


def _partner_token(svc: Services, creds: PartnerCreds) -> str:
    return gateway.partner_token(
        svc, client_id=creds.client_id, pass_key=creds.passkey, source="10.2.0.1"
    ).token


def _decided(svc: Services) -> tuple[PartnerCreds, Submission, FlowSession]:
    """A decided attempt (the same person): its partner's credentials, the row and its session."""
    creds = create_partner(svc.db)
    image = fake_face_image(8)
    submission_id = seed_submission(
        svc.db,
        creds.partner_id,
        selfie_blob=svc.blobs.put(image),
        reference_blob=svc.blobs.put(image),
    )
    processing.process_submission(svc, submission_id)
    with svc.db.session() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None
        flow_session = session.get(FlowSession, submission.session_id)
        assert flow_session is not None
        session.expunge_all()
    return creds, submission, flow_session


def _request(token: str, *, psid: str = "", sid: str = "", uid: str | None = None) -> results.DetailsRequest:
    return results.DetailsRequest(token, psid, sid, uid, "T" if uid else None)


def test_details_by_either_id_are_the_same_and_each_read_is_audited(fake_services: Services) -> None:
    svc = fake_services
    creds, submission, flow_session = _decided(svc)
    token = _partner_token(svc, creds)
    by_id = results.details(svc, _request(token, sid=submission.id))
    by_session = results.details(svc, _request(token, psid=flow_session.partner_session_id))
    for data in (by_id, by_session):  # each answer signs its own selfie URL
        data["submissionDetails"].pop("imageUrls")
    assert by_id == by_session
    assert (by_id["status"], by_id["result"]) == ("COMPLETED", "VALID")
    with svc.db.session() as session:
        reads = (
            session.query(AuditEvent).filter_by(submission_id=submission.id, action="read_details").count()
        )
    assert reads == 2


def test_details_need_an_id_and_the_right_user(fake_services: Services) -> None:
    svc = fake_services
    creds, submission, _ = _decided(svc)
    token = _partner_token(svc, creds)
    with pytest.raises(MissingFieldError) as raised:
        results.details(svc, _request(token))
    assert raised.value.code == "PARTNER_SESSION_ID_CANNOT_BE_EMPTY"
    with pytest.raises(SessionUserMismatchError):
        results.details(svc, _request(token, sid=submission.id, uid="someone-else"))


def test_another_partner_finds_nothing(fake_services: Services) -> None:
    svc = fake_services
    _, submission, flow_session = _decided(svc)
    stranger = _partner_token(svc, create_partner(svc.db))
    for request in (
        _request(stranger, sid=submission.id),
        _request(stranger, psid=flow_session.partner_session_id),
    ):
        with pytest.raises(SubmissionNotFoundError):
            results.details(svc, request)


def test_the_selfie_url_opens_its_own_image_only(fake_services: Services) -> None:
    svc = fake_services
    creds, submission, _ = _decided(svc)
    _, other, _ = _decided(svc)
    details = results.details(svc, _request(_partner_token(svc, creds), sid=submission.id))
    url = details["submissionDetails"]["imageUrls"]["selfie"]
    signature = parse_qs(urlsplit(url).query)["signature"][0]
    assert results.selfie_image(svc, submission.id, signature) == svc.blobs.get(submission.selfie_blob or "")
    with pytest.raises(UnauthorizedError):
        results.selfie_image(svc, other.id, signature)
