"""The service with its images in S3 (a real SeaweedFS), through real HTTP: the whole
backend-to-backend flow and the synchronous compare leave only ciphertext in the bucket and nothing on
the local disk; while S3 is down, uploads and compares answer 503 with Retry-After and record
nothing, jobs wait and complete when it is back, and /readyz says so."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from facematch.api.app import create_app
from facematch.clock import ManualClock
from facematch.engine.fake import FakeEngine, fake_face_image
from facematch.errors import BlobStoreRefusedError
from facematch.flows import retention
from facematch.storage.models import FlowSession, Job, Submission, utcnow
from partner_client import Api, make_api
from s3kit import SeaweedFS, is_sealed_blob
from servicekit import LiveServer, live_app, make_settings, wait_for


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"api-{secrets.token_hex(6)}/"


@pytest.fixture(scope="module")
def live(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory, seaweedfs: SeaweedFS, prefix: str
) -> Iterator[LiveServer]:
    """This module's server (the package's ``api`` fixture talks to it), its images in SeaweedFS."""
    env = seaweedfs.env(prefix)
    with live_app(module_database_url, tmp_path_factory.mktemp("live-s3"), **env) as server:
        yield server


def compare(api: Api, psid: str) -> httpx.Response:
    headers = {"x-onekyc-token": api.partner_token(), "x-partner-session-id": psid, **api.user_headers()}
    files = {
        "selfie": ("s.png", fake_face_image(7), "image/png"),
        "reference": ("r.png", fake_face_image(7), "image/png"),
    }
    return api.http.post("/coe-partner/v1/face-match", headers=headers, files=files)


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["errors"] == [{"code": "903", "cause": "SERVICE_UNAVAILABLE"}]
    assert int(response.headers["retry-after"]) > 0


def stored_blobs(live: LiveServer, submission_id: str) -> list[str]:
    with live.services.db.session() as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None
        return [blob for blob in (submission.selfie_blob, submission.reference_blob) if blob]


def images_on_disk(root: Path) -> list[Path]:
    """Files under ``root`` that hold an image (or a blob) rather than keys, logs or the database."""
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            head = path.read_bytes()[:16]
            if head.startswith((b"\xff\xd8\xff", b"\x89PNG", b"FMB1", b"RIFF")) or head[4:8] == b"ftyp":
                found.append(path)
    return found


def test_the_whole_flow_keeps_images_in_s3_only_and_encrypted(
    api: Api, live: LiveServer, seaweedfs: SeaweedFS, prefix: str
) -> None:
    token, psid, submission_id = api.run_be_flow(fake_face_image(3), fake_face_image(3))
    status = api.wait_decided(token, psid, submission_id)
    assert (status["status"], status["result"]) == ("COMPLETED", "VALID")
    details = api.details(x_submission_id=submission_id).json()["data"]
    selfie = httpx.get(details["submissionDetails"]["imageUrls"]["selfie"])
    assert selfie.status_code == 200 and selfie.content[:4] == b"\x89PNG"
    direct = compare(api, str(uuid.uuid4()))
    assert direct.status_code == 200 and direct.json()["data"]["result"] == "VALID"

    blobs = stored_blobs(live, submission_id) + stored_blobs(live, direct.json()["data"]["submissionId"])
    objects = seaweedfs.objects(prefix)
    assert {prefix + blob for blob in blobs} <= set(objects) and len(blobs) == 3
    assert all(is_sealed_blob(raw) for raw in objects.values())
    data_dir = live.services.settings.data_dir
    assert not (data_dir / "blobs").exists() and images_on_disk(data_dir) == []

    # retention deletes the objects
    with live.services.db.session() as session:
        session.execute(
            update(Submission)
            .where(Submission.id == submission_id)
            .values(created_at=utcnow() - timedelta(days=40))
        )
    assert retention.purge_images(live.services, days=30).decided >= 1
    remaining = seaweedfs.objects(prefix)
    assert not {prefix + blob for blob in blobs[:2]} & set(remaining) and prefix + blobs[2] in remaining


def test_an_upload_while_s3_is_down_is_refused_and_claims_no_image(
    api: Api, live: LiveServer, seaweedfs: SeaweedFS
) -> None:
    token, psid = api.user_token(), str(uuid.uuid4())
    presigned = api.presign(token, psid).json()["data"]
    selfie_url = presigned["documents"]["SELFIE"]["documentUrl"]
    with seaweedfs.stopped():
        assert_unavailable(api.upload(selfie_url, fake_face_image(4)))
        assert stored_blobs(live, presigned["submissionId"]) == []
        confirm = api.confirm(token, psid, presigned["submissionId"])
        assert (
            confirm.status_code == 422 and confirm.json()["errors"][0]["cause"] == "INVALID_UPLOAD_ARTIFACT"
        )
        ready = api.http.get("/readyz")  # the process itself is fine: it stays in rotation
        assert ready.status_code == 200 and ready.json()["blobs"] is False
    assert api.http.get("/readyz").json()["blobs"] is True
    assert api.upload(selfie_url, fake_face_image(4)).status_code == 200  # the same URL, once S3 is back
    assert (
        api.upload(presigned["documents"]["REFERENCE"]["documentUrl"], fake_face_image(4)).status_code == 200
    )
    assert api.confirm(token, psid, presigned["submissionId"]).status_code == 200
    assert api.wait_decided(token, psid, presigned["submissionId"])["result"] == "VALID"


def test_a_compare_while_s3_is_down_answers_503_and_records_nothing(
    api: Api, live: LiveServer, seaweedfs: SeaweedFS
) -> None:
    psid = str(uuid.uuid4())
    with seaweedfs.stopped():
        assert_unavailable(compare(api, psid))
        with live.services.db.session() as session:
            assert session.scalar(select(FlowSession).where(FlowSession.partner_session_id == psid)) is None
    retried = compare(api, psid)  # the partner retries with the same session id
    assert retried.status_code == 200 and retried.json()["data"]["result"] == "VALID"


def test_a_job_waits_while_s3_is_down_and_completes_when_it_is_back(
    api: Api, live: LiveServer, seaweedfs: SeaweedFS
) -> None:
    token, psid = api.user_token(), str(uuid.uuid4())
    presigned = api.presign(token, psid).json()["data"]
    submission_id = presigned["submissionId"]
    for slot in ("SELFIE", "REFERENCE"):
        assert api.upload(presigned["documents"][slot]["documentUrl"], fake_face_image(6)).status_code == 200

    def failed_once() -> bool:
        with live.services.db.session() as session:
            job = session.scalar(select(Job).where(Job.submission_id == submission_id))
            return (
                job is not None and job.tries >= 1 and "BlobStoreUnavailableError" in (job.last_error or "")
            )

    with seaweedfs.stopped():
        assert api.confirm(token, psid, submission_id).status_code == 200  # confirming needs no S3
        wait_for(failed_once, timeout=30)
        assert api.status(token, psid, submission_id).json()["data"]["status"] == "IN_PROGRESS"
    status = api.wait_decided(token, psid, submission_id)
    assert (status["status"], status["result"]) == ("COMPLETED", "VALID")


def test_a_job_outlasts_an_outage_far_longer_than_its_tries(
    database_url: str, tmp_path: Path, seaweedfs: SeaweedFS
) -> None:
    """Five minutes of outage in the services' clock (three tries, about 6 s, once ended a job
    ERROR): the job keeps waiting, without spending a try, and completes once the store is back."""
    clock = ManualClock()
    env = seaweedfs.env(f"outage-{secrets.token_hex(4)}/")
    with live_app(database_url, tmp_path, clock=clock, **env) as server:
        api = make_api(server, callback_url=None)
        try:
            token, psid = api.user_token(), str(uuid.uuid4())
            presigned = api.presign(token, psid).json()["data"]
            submission_id = presigned["submissionId"]
            for slot in ("SELFIE", "REFERENCE"):
                url = presigned["documents"][slot]["documentUrl"]
                assert api.upload(url, fake_face_image(6)).status_code == 200

            def waiting_after(tries: int) -> Job | None:
                with server.services.db.session() as session:
                    job = session.scalar(select(Job).where(Job.submission_id == submission_id))
                    if job is not None:
                        session.expunge(job)
                return job if job and job.state == "queued" and job.tries >= tries else None

            with seaweedfs.stopped():
                assert api.confirm(token, psid, submission_id).status_code == 200
                for tries in range(1, 6):
                    job = wait_for(lambda t=tries: waiting_after(t), timeout=60)
                    assert job.failures == 0 and "BlobStoreUnavailableError" in (job.last_error or "")
                    clock.advance(58)  # past the try's backoff, in the services' time
                assert api.status(token, psid, submission_id).json()["data"]["status"] == "IN_PROGRESS"
            clock.advance(30)  # due again: the store is back
            status = api.wait_decided(token, psid, submission_id)
            assert (status["status"], status["result"]) == ("COMPLETED", "VALID")
        finally:
            api.http.close()


def test_the_service_does_not_start_without_its_bucket(
    database_url: str, tmp_path: Path, seaweedfs: SeaweedFS
) -> None:
    env = seaweedfs.env("x/", bucket=f"missing-{secrets.token_hex(4)}")
    app = create_app(make_settings(database_url, tmp_path, **env), engine=FakeEngine())

    async def start() -> None:
        async with app.router.lifespan_context(app):
            pass

    with pytest.raises(BlobStoreRefusedError, match="bucket does not exist"):
        asyncio.run(start())


def test_the_service_starts_while_s3_is_down(database_url: str, tmp_path: Path, seaweedfs: SeaweedFS) -> None:
    with seaweedfs.stopped(), live_app(database_url, tmp_path, **seaweedfs.env("x/")) as server:
        ready = httpx.get(server.url + "/readyz")
        assert ready.status_code == 200 and ready.json()["blobs"] is False
