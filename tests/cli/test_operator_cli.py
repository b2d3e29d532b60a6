"""``facematch operator ...`` and ``facematch partner ... --review-band`` against a real database."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest

from clikit import field, run
from facematch.cli.main import main
from facematch.cli.serve import seed_demo_admin
from facematch.errors import ConsoleSessionError, LoginFailedError
from facematch.flows.console import auth as console_auth
from facematch.flows.review import calibration_for
from facematch.services import build_services
from servicekit import SECRETS, make_settings


def test_operator_lifecycle(
    cli_env: Path, capsys: pytest.CaptureFixture[str], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    email = f"ops-{uuid.uuid4().hex[:6]}@bank.example"
    out = run(capsys, "operator", "create", email, "--role", "viewer")
    password = field(out, "password")
    SECRETS.add(password)
    assert len(password) >= 12 and "changed at the first login" in out
    assert email in run(capsys, "operator", "list")
    svc = build_services(make_settings(database_url, cli_env))
    try:
        step = console_auth.password_step(svc, email, password, "127.0.0.1")
        assert step.stage == console_auth.ACTIVE and step.must_change_password
        run(capsys, "operator", "disable", email)
        with pytest.raises(ConsoleSessionError):
            console_auth.resolve(svc, step.token)
        with pytest.raises(LoginFailedError):
            console_auth.password_step(svc, email, password, "127.0.0.1")
        run(capsys, "operator", "disable", email, "--enable")
        new = field(run(capsys, "operator", "reset-password", email), "password")
        SECRETS.add(new)
        with pytest.raises(LoginFailedError):
            console_auth.password_step(svc, email, password, "127.0.0.1")
        assert console_auth.password_step(svc, email, new, "127.0.0.1").stage == console_auth.ACTIVE
        assert "unlocked" in run(capsys, "operator", "unlock", email)
        reviewer = f"rev-{uuid.uuid4().hex[:6]}@bank.example"
        monkeypatch.setattr("sys.stdin", io.StringIO("a long chosen passphrase\n"))
        out = run(capsys, "operator", "create", reviewer, "--role", "reviewer", "--password-stdin")
        assert "password:" not in out and "TOTP" in out
        step = console_auth.password_step(svc, reviewer, "a long chosen passphrase", "127.0.0.1")
        assert step.stage == console_auth.ENROL
    finally:
        svc.db.dispose()
    assert main(["operator", "create", email, "--role", "viewer"]) == 2  # exists
    assert "OPERATOR_EXISTS" in capsys.readouterr().err


def test_partner_review_band_options(
    cli_env: Path, capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    out = run(capsys, "partner", "create", "Bank", "--review-band", "0.30:0.363", "--review-deadline-h", "8")
    client_id = field(out, "client-id")
    SECRETS.update({field(out, "pass-key"), field(out, "webhook secret")})
    band = json.loads(run(capsys, "partner", "show", client_id))["reviewBand"]
    assert band == {"low": 0.30, "high": 0.363, "deadlineS": 8 * 3600, "default": "REJECT"}
    shown = json.loads(
        run(
            capsys, "partner", "update", client_id, "--review-band", "far:1e-2", "--review-default", "approve"
        )
    )
    expected = calibration_for(make_settings(database_url, cli_env)).threshold_for(1e-2)
    assert shown["reviewBand"]["low"] == pytest.approx(expected, abs=1e-4)
    assert shown["reviewBand"]["high"] == 1.0 and shown["reviewBand"]["default"] == "APPROVE"
    assert (
        json.loads(run(capsys, "partner", "update", client_id, "--review-band", "off"))["reviewBand"] is None
    )
    assert main(["partner", "update", client_id, "--review-band", "0.4:0.3"]) == 2
    assert "INVALID_REVIEW_BAND" in capsys.readouterr().err


def test_development_seeds_one_console_admin(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path)  # the test's own database: no operator yet
    path = tmp_path / "demo-operator.json"
    seeded = seed_demo_admin(settings, path)
    assert seeded is not None and path.stat().st_mode & 0o777 == 0o600
    SECRETS.add(seeded["password"])
    assert json.loads(path.read_text()) == seeded
    assert seed_demo_admin(settings, path) is None
    path.unlink()
    assert seed_demo_admin(settings, path) is None  # operators exist: nothing new
    svc = build_services(settings)
    try:
        step = console_auth.password_step(svc, seeded["email"], seeded["password"], "127.0.0.1")
        assert step.stage == console_auth.ENROL
    finally:
        svc.db.dispose()
