"""``facematch blobs init|check`` and ``facematch purge`` with the images in S3 (a real SeaweedFS)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import pytest

from facematch.cli.main import main
from facematch.config import Settings
from facematch.engine.fake import fake_face_image
from facematch.services import build_services
from facematch.storage.models import utcnow
from s3kit import SeaweedFS, is_sealed_blob
from servicekit import create_partner, seed_submission, service_env


def use_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def test_init_creates_a_missing_bucket_once_and_checks_it(
    database_url: str, tmp_path: Path, seaweedfs: SeaweedFS, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    bucket = f"init-{secrets.token_hex(4)}"
    use_env(monkeypatch, service_env(database_url, tmp_path, **seaweedfs.env("fm/", bucket=bucket)))
    try:
        assert main(["blobs", "check"]) == 2
        refused = capsys.readouterr().err
        assert (
            "BLOB_STORE_REFUSED: the image store could not reach its bucket: the bucket does not exist"
            in refused
        )
        assert main(["blobs", "init"]) == 0
        out = capsys.readouterr().out
        assert f"created bucket '{bucket}'" in out and "write, read and delete work" in out
        assert main(["blobs", "init"]) == 0
        assert f"found bucket '{bucket}'" in capsys.readouterr().out
        assert main(["blobs", "check"]) == 0
        assert seaweedfs.objects(bucket=bucket) == {}  # the probe objects are gone
    finally:
        seaweedfs.delete_bucket(bucket)


def test_init_and_check_on_the_file_store(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_env(monkeypatch, service_env(database_url, tmp_path))
    assert main(["blobs", "init"]) == 0
    assert f"file store {tmp_path / 'blobs'}: write, read and delete work" in capsys.readouterr().out
    assert main(["blobs", "check"]) == 0


def test_purge_deletes_objects_and_reports_an_outage(
    database_url: str, tmp_path: Path, seaweedfs: SeaweedFS, s3_env: dict[str, str], s3_prefix: str,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    use_env(monkeypatch, service_env(database_url, tmp_path, **s3_env))
    svc = build_services(Settings())
    partner_id = create_partner(svc.db).partner_id
    old = [svc.blobs.put(fake_face_image(1)) for _ in range(2)]
    seed_submission(
        svc.db, partner_id, status="COMPLETED", result="VALID", reason_code="", selfie_blob=old[0],
        reference_blob=old[1], created_at=utcnow() - timedelta(days=40),
    )  # fmt: skip
    kept = svc.blobs.put(fake_face_image(1))
    seed_submission(svc.db, partner_id, status="COMPLETED", result="VALID", reason_code="", selfie_blob=kept)
    assert all(is_sealed_blob(raw) for raw in seaweedfs.objects(s3_prefix).values())
    with seaweedfs.stopped():
        assert main(["purge", "--days", "30"]) == 2
        assert "BLOB_STORE_UNAVAILABLE: the image store could not delete an image: unreachable" in (
            capsys.readouterr().err
        )
    # the rows already let go of the images, so the next run removes them as orphans
    monkeypatch.setenv("FACEMATCH_BLOBS__ORPHAN_GRACE_S", "1")
    assert main(["purge", "--days", "30"]) == 0
    assert "deleted 2 stored images no submission refers to" in capsys.readouterr().out
    assert set(seaweedfs.objects(s3_prefix)) == {s3_prefix + kept}
    svc.db.dispose()
