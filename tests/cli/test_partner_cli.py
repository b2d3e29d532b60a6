"""``facematch partner|db|callbacks|purge`` against a real database."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from clikit import field, run
from facematch.cli.main import main
from facematch.config import Settings
from facematch.engine.fake import fake_face_image
from facematch.flows import partners
from facematch.storage import repo
from facematch.storage.blobs import BlobNotFoundError
from facematch.storage.db import Database
from facematch.storage.models import Submission, utcnow
from facematch.worker.runtime import build_services
from servicekit import SECRETS, create_partner, seed_submission


def test_partner_lifecycle(cli_env: Path, capsys: pytest.CaptureFixture[str], database_url: str) -> None:
    out = run(
        capsys, "partner", "create", "Toko", "--onboarding-partner", "TOKO-SDK-FACE_MATCH",
        "--reference-host", "img.toko.example", "--frame-origin", "https://toko.example",
        "--max-attempts", "5", "--status-screen", "hide", "--allow-qr", "on",
    )  # fmt: skip
    client_id, passkey = field(out, "client-id"), field(out, "pass-key")
    SECRETS.update({passkey, field(out, "webhook secret")})
    assert len(passkey) >= 22  # ≥128 bits of randomness, URL-safe base64
    assert client_id in run(capsys, "partner", "list")
    shown = json.loads(run(capsys, "partner", "show", client_id))
    assert shown["maxAttempts"] == 5 and shown["showStatusScreen"] is False and shown["allowQr"] is True
    assert passkey not in json.dumps(shown) and "whsec_" not in json.dumps(shown)
    db = Database(database_url)
    with db.session() as session:
        partner = repo.partner_by_client_id(client_id, session=session)
        assert partner is not None and partner.passkey_hash == partners.hash_passkey(passkey)
        assert passkey not in partner.passkey_hash
    rotated = field(run(capsys, "partner", "rotate-key", client_id, "--overlap-s", "0"), "pass-key")
    SECRETS.add(rotated)
    with db.session() as session:
        partner = repo.partner_by_client_id(client_id, session=session)
        assert partner is not None and partner.passkey_hash == partners.hash_passkey(rotated)
        assert partner.previous_passkey_hash is None
    out = run(
        capsys, "partner", "set-callback", client_id, "https://toko.example/hook", "--method", "PUT",
        "--auth-header", "Authorization: Bearer abc", "--new-secret",
    )  # fmt: skip
    SECRETS.add(field(out, "webhook secret"))
    shown = json.loads(run(capsys, "partner", "show", client_id))
    assert shown["callback"] == {
        "url": "https://toko.example/hook",
        "method": "PUT",
        "authHeader": "Authorization",
        "goneAt": None,
    }
    updated = json.loads(
        run(capsys, "partner", "update", client_id, "--force-qr", "on", "--max-attempts", "2")
    )
    assert updated["forceQr"] is True and updated["maxAttempts"] == 2
    run(capsys, "partner", "disable", client_id)
    assert json.loads(run(capsys, "partner", "show", client_id))["disabled"] is True
    assert main(["partner", "show", "no-such-client"]) == 2
    assert main(["partner", "set-callback", client_id, "ftp://x"]) == 2
    db.dispose()


def test_db_and_callbacks_and_purge(
    cli_env: Path, capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    assert "0" in run(capsys, "db", "upgrade")
    assert run(capsys, "db", "current").strip()
    assert isinstance(json.loads(run(capsys, "callbacks", "list", "--status", "dead", "--limit", "5")), list)
    assert main(["callbacks", "resend", "msg_unknown"]) == 2
    # an old decided submission with stored images is purged; its decision stays
    svc = build_services(Settings())
    db = svc.db
    creds = create_partner(db)
    blob = svc.blobs.put(fake_face_image(1))
    old_id = seed_submission(
        db,
        creds.partner_id,
        status="COMPLETED",
        result="VALID",
        reason_code="",
        selfie_blob=blob,
        metadata_json={},
        created_at=utcnow() - timedelta(days=40),
    )
    out = run(capsys, "purge", "--days", "30")
    assert "purged images of" in out
    with db.session() as session:
        row = session.get(Submission, old_id)
        assert row is not None and row.selfie_blob is None and row.images_purged_at is not None
        assert row.result == "VALID"
    with pytest.raises(BlobNotFoundError):
        svc.blobs.get(blob)
    db.dispose()
