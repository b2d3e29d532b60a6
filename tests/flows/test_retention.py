"""Retention reaches every stored image: decided attempts, attempts never confirmed, abandoned
attempts after a retry, and orphan blobs left by a crash; on the file store and on S3."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from facematch.clock import ManualClock
from facematch.engine.fake import FakeEngine, fake_face_image
from facematch.errors import SubmissionNotFoundError
from facematch.flows import retention, submissions
from facematch.flows.context import Services
from facematch.security.tokens import TokenKind
from facematch.services import build_services
from facematch.storage import liveness_repo
from facematch.storage.blobs import BlobNotFoundError
from facematch.storage.models import AuditEvent, FlowSession, Submission, utcnow
from facematch.worker.queue import sweep_abandoned
from servicekit import create_partner, make_settings, seed_submission, user_token


@pytest.fixture
def svc(database_url: str, tmp_path: Path, blob_backend_env: dict[str, str]) -> Iterator[Services]:
    """The services on the encrypted file store, then on S3 (SeaweedFS)."""
    services = build_services(make_settings(database_url, tmp_path, **blob_backend_env), engine=FakeEngine())
    yield services
    services.db.dispose()


def stored(svc: Services, blob_id: str) -> bool:
    try:
        svc.blobs.get(blob_id)
    except BlobNotFoundError:
        return False
    return True


def test_a_never_confirmed_attempt_goes_with_its_images(svc: Services) -> None:
    creds = create_partner(svc.db)
    partner_id = creds.partner_id
    selfie = svc.blobs.put(fake_face_image(1))
    old = seed_submission(
        svc.db, partner_id, status="INITIATED", selfie_blob=selfie, created_at=utcnow() - timedelta(days=31)
    )
    with svc.db.session() as session:
        found = session.get(Submission, old)
        assert found is not None
        psid = found.session_id  # seeded sessions use their id as the partner's session id
    recent_blob = svc.blobs.put(fake_face_image(1))
    recent = seed_submission(svc.db, partner_id, status="INITIATED", selfie_blob=recent_blob)

    preview = retention.purge_images(svc, days=30, dry_run=True)
    assert preview.unconfirmed == 1 and stored(svc, selfie)  # a dry run deletes nothing
    with svc.db.session() as session:
        assert session.get(Submission, old) is not None

    report = retention.purge_images(svc, days=30)
    assert report.unconfirmed == 1 and not report.dry_run
    assert not stored(svc, selfie) and stored(svc, recent_blob)
    with svc.db.session() as session:
        assert session.get(Submission, old) is None
        assert session.get(Submission, recent) is not None
        assert session.scalar(
            select(AuditEvent).where(
                AuditEvent.submission_id == old, AuditEvent.action == "expire_unconfirmed"
            )
        )
    # its upload URL (still signed) and a confirm with the user's (60-day) token find nothing
    upload = svc.tokens.issue(TokenKind.UPLOAD, old, 600, doc="SELFIE", pid=partner_id).token
    with pytest.raises(SubmissionNotFoundError):
        submissions.upload(svc, old, "SELFIE", upload, fake_face_image(1), "image/png")
    user = user_token(svc, creds)  # the seeded session's user ("u" of type "T")
    with pytest.raises(SubmissionNotFoundError):
        submissions.confirm(svc, submissions.UserRequest(user, psid, "sdk-1"), {"submissionId": old})


def test_decided_attempts_lose_their_images_and_keep_their_result(svc: Services) -> None:
    partner_id = create_partner(svc.db).partner_id
    selfie, reference = svc.blobs.put(fake_face_image(1)), svc.blobs.put(fake_face_image(1))
    decided = seed_submission(
        svc.db,
        partner_id,
        status="COMPLETED",
        result="VALID",
        reason_code="",
        score=0.99,
        selfie_blob=selfie,
        reference_blob=reference,
        created_at=utcnow() - timedelta(days=40),
    )
    running_blob = svc.blobs.put(fake_face_image(1))
    running = seed_submission(
        svc.db, partner_id, selfie_blob=running_blob, created_at=utcnow() - timedelta(days=40)
    )
    assert retention.purge_images(svc, days=30).decided == 1
    assert not stored(svc, selfie) and not stored(svc, reference)
    assert stored(svc, running_blob)  # its job still needs it
    with svc.db.session() as session:
        row = session.get(Submission, decided)
        assert row is not None and row.result == "VALID" and row.score == 0.99
        assert row.selfie_blob is None and row.images_purged_at is not None
        still = session.get(Submission, running)
        assert still is not None and still.selfie_blob == running_blob


def test_orphan_blobs_past_the_grace_are_deleted(svc: Services) -> None:
    clock = ManualClock()
    svc = dataclasses.replace(svc, clock=clock)
    partner_id = create_partner(svc.db).partner_id
    orphan = svc.blobs.put(fake_face_image(1))  # stored, then the process died before its row
    owned = svc.blobs.put(fake_face_image(1))
    seed_submission(svc.db, partner_id, status="INITIATED", selfie_blob=owned)
    # at once, the orphan may be a write whose row is still being committed: it stays
    assert retention.purge_images(svc, days=30).orphans == 0
    assert stored(svc, orphan)
    # a grace period later (the purge's clock moved on; the store keeps its own write times)
    clock.advance(svc.settings.blobs.orphan_grace_s + 60)
    assert retention.purge_images(svc, days=30, dry_run=True).orphans == 1
    assert stored(svc, orphan)
    assert retention.purge_images(svc, days=30).orphans == 1
    assert not stored(svc, orphan) and stored(svc, owned)


def test_an_attempt_begun_after_a_retry_and_abandoned_is_removed_and_the_session_finished(
    svc: Services,
) -> None:
    partner_id = create_partner(svc.db).partner_id
    decided_at = utcnow() - timedelta(seconds=svc.settings.web.session_ttl_s + 60)
    first = seed_submission(
        svc.db,
        partner_id,
        status="COMPLETED",
        result="INVALID",
        reason_code="FACE_MATCH_FAILED",
        next_action="RETRY",
        final=False,
        completed_at=decided_at,
        created_at=decided_at,
    )
    with svc.db.session() as session:
        first_row = session.get(Submission, first)
        assert first_row is not None
        flow_id = first_row.session_id
        flow = session.get(FlowSession, flow_id)
        assert flow is not None
        flow.interactive = True
    selfie = svc.blobs.put(fake_face_image(1))
    second = str(uuid.uuid4())
    with svc.db.session() as session:
        session.add(
            Submission(
                id=second,
                partner_id=partner_id,
                session_id=flow_id,
                attempt=2,
                status="INITIATED",
                selfie_blob=selfie,
                metadata_json={},
                details={},
                created_at=decided_at,
            )
        )
    assert sweep_abandoned(svc) == 1
    assert not stored(svc, selfie)
    with svc.db.session() as session:
        assert session.get(Submission, second) is None
        row = session.get(Submission, first)
        assert row is not None and row.final and row.next_action in ("STATUS", "EXIT")


def test_liveness_evidence_is_never_an_orphan_and_goes_with_its_unconfirmed_attempt(svc: Services) -> None:
    """A clip and a challenge frame's blob are kept while their attempt is open (the orphan purge
    leaves them), and deleted with an attempt that was never confirmed."""
    clock = ManualClock()
    svc = dataclasses.replace(svc, clock=clock)
    partner_id = create_partner(svc.db).partner_id
    clip, face = svc.blobs.put(b"clip"), svc.blobs.put(b"face")
    challenge = {"nonce": "n" * 32, "moves": ["TURN_LEFT", "TURN_RIGHT"], "withinS": 6.0}
    submission_id = seed_submission(
        svc.db,
        partner_id,
        status="INITIATED",
        liveness_blob=clip,
        liveness_challenge={**challenge, "issuedAt": 0.0, "deadline": 30.0},
        created_at=utcnow() - timedelta(days=31),
    )
    with svc.db.session() as session:
        liveness_repo.add_frame(submission_id, "n" * 32, 1.0, 100, {"faces": 1}, face, session=session)
    clock.advance(svc.settings.blobs.orphan_grace_s + 60)
    assert retention.purge_orphans(svc, before=clock.now()) == 0
    assert stored(svc, clip) and stored(svc, face)
    assert retention.purge_images(svc, days=30).unconfirmed == 1
    assert not stored(svc, clip) and not stored(svc, face)
    with svc.db.session() as session:
        assert session.get(Submission, submission_id) is None
        assert liveness_repo.frames_of(submission_id, session=session) == []
