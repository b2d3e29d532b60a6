"""The demo partner's own logic: webhook verification and safe pages."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from facematch.demo_partner.client import verify_webhook
from facematch.demo_partner.pages import frame_page, result_page
from facematch.outbound.webhooks import generate_secret as new_webhook_secret


def _signed(secret: str, body: bytes, msg_id: str = "msg_1", stamp: int | None = None) -> dict[str, str]:
    stamp = int(time.time()) if stamp is None else stamp
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(stamp, tz=UTC), body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(stamp), "webhook-signature": signature}


def test_webhooks_signed_by_an_off_the_shelf_signer_verify() -> None:
    secret = new_webhook_secret()
    body = b'{"status":"COMPLETED"}'
    headers = _signed(secret, body)
    assert verify_webhook(secret, headers, body)
    assert not verify_webhook(secret, headers, body + b" ")
    assert not verify_webhook(secret, {**headers, "webhook-id": "msg_2"}, body)
    assert not verify_webhook(secret, {**headers, "webhook-timestamp": str(int(time.time()) - 1)}, body)
    assert not verify_webhook(new_webhook_secret(), headers, body)
    stale = _signed(secret, body, stamp=int(time.time()) - 3600)
    assert not verify_webhook(secret, stale, body)
    assert not verify_webhook(secret, {}, body)


def test_pages_escape_what_they_echo() -> None:
    page = result_page("Demo", "failure", {"status": "<script>x</script>"}, {"a": "<b>"}, [])
    assert "<script>x" not in page and "&lt;script&gt;" in page
    frame = frame_page("Demo", "https://fm.test/web/index.html#/launch-v1?token=a'b", "https://fm.test")
    assert "token=a&#x27;b" in frame and 'const FACEMATCH_ORIGIN = "https://fm.test";' in frame


def test_demo_partner_credentials_come_from_the_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from facematch.cli.demo_partner import load_credentials
    from facematch.cli.main import main

    path = tmp_path / "demo-partner.json"
    path.write_text(
        json.dumps({"clientId": "c", "passKey": "p", "webhookSecret": "w", "onboardingPartner": "o"})
    )
    monkeypatch.setenv("DEMO_PASS_KEY", "from-env")
    assert load_credentials(path) == {
        "clientId": "c",
        "passKey": "from-env",
        "webhookSecret": "w",
        "onboardingPartner": "o",
    }
    monkeypatch.delenv("DEMO_PASS_KEY")
    assert main(["demo-partner", "--credentials", str(tmp_path / "none.json")]) == 2
    assert "missing credentials" in capsys.readouterr().out


def test_the_webhook_endpoint_verifies_and_deduplicates() -> None:
    from facematch.demo_partner.app import DemoConfig, create_demo_app
    from facematch.demo_partner.client import PartnerCredentials
    from webkit import TestClient

    secret = new_webhook_secret()
    config = DemoConfig(
        "http://127.0.0.1:9", "http://127.0.0.1:8001", PartnerCredentials("c", "p", "o", secret)
    )
    app = create_demo_app(config)
    body = json.dumps({"partnerSessionId": "s-1", "status": "COMPLETED"}).encode()
    with TestClient(app) as client:
        for _ in range(2):
            assert client.post("/webhook", content=body, headers=_signed(secret, body)).status_code == 200
        assert (
            client.post("/webhook", content=body, headers=_signed(new_webhook_secret(), body)).status_code
            == 401
        )
    assert [hook["id"] for hook in app.state.demo.webhooks] == ["msg_1"]


def test_the_demo_partner_keeps_a_reference_and_serves_it_and_its_icon(faces_dir: Path) -> None:
    from fastapi.testclient import TestClient

    from facematch.demo_partner.app import DemoConfig, create_demo_app
    from facematch.demo_partner.client import PartnerCredentials

    credentials = PartnerCredentials("c", "p", "DEMO-WEB_SDK-FACE_MATCH", new_webhook_secret())
    app = create_demo_app(DemoConfig("http://127.0.0.1:1", "http://demo.test", credentials))
    portrait = (faces_dir / "images" / "obama2.jpg").read_bytes()
    with TestClient(app) as client:
        kept = client.post("/reference-image", content=portrait, headers={"content-type": "image/jpeg"})
        assert kept.status_code == 200
        url = kept.json()["referenceImageUrl"]
        assert url.startswith("http://demo.test/reference-image/")
        served = client.get(url.removeprefix("http://demo.test"))
        assert served.content == portrait and served.headers["content-type"] == "image/jpeg"
        assert client.post("/reference-image", content=b"<html>").status_code == 400  # not an image
        assert client.get("/favicon.ico").headers["content-type"] == "image/x-icon"
