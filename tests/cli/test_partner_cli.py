"""``facematch partner|db|callbacks|purge`` against a real database."""

from __future__ import annotations

import base64
import json
import os
from datetime import timedelta
from pathlib import Path

import pytest

from clikit import field, run
from facematch.cli.main import main
from facematch.config import Settings
from facematch.engine.fake import fake_face_image
from facematch.flows import partners
from facematch.services import build_services
from facematch.storage import partner_repo
from facematch.storage.blobs import BlobNotFoundError
from facematch.storage.db import Database
from facematch.storage.models import Submission, utcnow
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
        partner = partner_repo.partner_by_client_id(client_id, session=session)
        assert partner is not None and partner.passkey_hash == partners.hash_passkey(passkey)
        assert passkey not in partner.passkey_hash
    rotated = field(run(capsys, "partner", "rotate-key", client_id, "--overlap-s", "0"), "pass-key")
    SECRETS.add(rotated)
    with db.session() as session:
        partner = partner_repo.partner_by_client_id(client_id, session=session)
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
    assert (shown["privacyUrl"], shown["sandbox"], shown["autoCapture"], shown["retryWindowS"]) == (
        None,
        False,
        True,
        600,
    )
    flow = json.loads(
        run(
            capsys, "partner", "update", client_id, "--privacy-url", "https://toko.example/privasi",
            "--auto-capture", "off", "--retry-window-s", "120", "--sandbox", "on",
        )
    )  # fmt: skip
    assert (flow["privacyUrl"], flow["autoCapture"], flow["retryWindowS"], flow["sandbox"]) == (
        "https://toko.example/privasi",
        False,
        120,
        True,
    )
    cleared = json.loads(run(capsys, "partner", "update", client_id, "--privacy-url", "", "--sandbox", "off"))
    assert cleared["privacyUrl"] is None and cleared["sandbox"] is False
    assert shown["liveness"] == "off"
    live = json.loads(run(capsys, "partner", "update", client_id, "--liveness", "active"))
    assert live["liveness"] == "active" and live["retryWindowS"] == 120
    for bad in (["--privacy-url", "javascript:alert(1)"], ["--retry-window-s", "0"]):
        assert main(["partner", "update", client_id, *bad]) == 2
    with pytest.raises(SystemExit):
        main(["partner", "update", client_id, "--liveness", "passive"])
    run(capsys, "partner", "disable", client_id)
    assert json.loads(run(capsys, "partner", "show", client_id))["disabled"] is True
    assert main(["partner", "show", "no-such-client"]) == 2
    assert main(["partner", "set-callback", client_id, "ftp://x"]) == 2
    # refused when set, not only when a delivery is tried: internal addresses and header smuggling
    for url in ("https://10.0.0.1/hook", "https://169.254.169.254/", "https://toko.example/a\r\nX: y"):
        assert main(["partner", "set-callback", client_id, url]) == 2
    sandbox = run(capsys, "partner", "create", "Toko uji", "--sandbox")
    SECRETS.update({field(sandbox, "pass-key"), field(sandbox, "webhook secret")})
    assert json.loads(run(capsys, "partner", "show", field(sandbox, "client-id")))["sandbox"] is True
    db.dispose()


def test_reseal_after_a_key_rotation(
    cli_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    out = run(capsys, "partner", "create", "Toko")
    client_id = field(out, "client-id")
    SECRETS.update({field(out, "pass-key"), field(out, "webhook secret")})
    old_key = os.environ["FACEMATCH_BLOBS__KEY"]
    monkeypatch.setenv("FACEMATCH_BLOBS__KEY", base64.b64encode(b"n" * 32).decode())
    monkeypatch.setenv("FACEMATCH_BLOBS__KEY_ID", "k2")
    monkeypatch.setenv("FACEMATCH_BLOBS__PREVIOUS_KEYS", json.dumps({"k1": old_key}))
    assert "sealed the secrets of" in run(capsys, "partner", "reseal")
    db = Database(database_url)
    try:
        with db.session() as session:
            partner = partner_repo.partner_by_client_id(client_id, session=session)
            assert partner is not None and partner.webhook_secret_sealed.startswith("fms1:k2:")
    finally:
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
    out = run(capsys, "purge", "--days", "30", "--dry-run")
    assert "would delete the images of 1 decided submissions" in out
    assert svc.blobs.get(blob)  # a dry run deletes nothing
    out = run(capsys, "purge", "--days", "30")
    assert "deleted the images of 1 decided submissions" in out
    with db.session() as session:
        row = session.get(Submission, old_id)
        assert row is not None and row.selfie_blob is None and row.images_purged_at is not None
        assert row.result == "VALID"
    with pytest.raises(BlobNotFoundError):
        svc.blobs.get(blob)
    db.dispose()
