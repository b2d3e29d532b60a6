"""The one settings object: where it reads from, and the one rule for development's shortcuts."""

from __future__ import annotations

from pathlib import Path

import pytest

from facematch.cli.main import main
from facematch.config import Settings
from servicekit import service_env


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No FACEMATCH_* variables, and a working directory of the test's own (where ``.env`` is read)."""
    import os

    for key in list(os.environ):
        if key.startswith("FACEMATCH_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_dotenv_file_in_the_working_directory_is_read(clean_environment: Path) -> None:
    (clean_environment / ".env").write_text(
        "FACEMATCH_ENVIRONMENT=test\nFACEMATCH_SERVER__PORT=8123\nFACEMATCH_ENGINE__TARGET_FAR=0.0001\n"
    )
    settings = Settings()
    assert (settings.environment, settings.server.port, settings.engine.target_far) == ("test", 8123, 1e-4)


def test_the_environment_wins_over_dotenv(clean_environment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_environment / ".env").write_text("FACEMATCH_SERVER__PORT=8123\n")
    monkeypatch.setenv("FACEMATCH_SERVER__PORT", "8124")
    assert Settings().server.port == 8124


@pytest.mark.parametrize(
    ("environment", "allowed"), [("development", True), ("test", False), ("production", False)]
)
def test_loopback_and_http_urls_follow_the_environment(
    clean_environment: Path, environment: str, allowed: bool
) -> None:
    reference = Settings(environment=environment).reference  # type: ignore[arg-type]
    assert (reference.allow_loopback, reference.allow_http) == (allowed, allowed)


def test_development_may_turn_its_shortcuts_off(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACEMATCH_REFERENCE__ALLOW_LOOPBACK", "false")
    reference = Settings().reference
    assert reference.allow_loopback is False and reference.allow_http is True


def test_production_refuses_the_shortcuts(clean_environment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEMATCH_ENVIRONMENT", "production")
    monkeypatch.setenv("FACEMATCH_REFERENCE__ALLOW_HTTP", "true")
    with pytest.raises(ValueError, match="refused in production"):
        Settings()


def test_the_command_line_of_a_development_setup_accepts_what_serve_dev_accepts(
    clean_environment: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The README's "run the demo partner elsewhere": a loopback http callback, set from the CLI of a
    development setup (no FACEMATCH_REFERENCE__* variables), as `serve --dev` would accept it."""
    environment = service_env(database_url, clean_environment)
    for key in (
        "FACEMATCH_DATABASE__URL",
        "FACEMATCH_DATA_DIR",
        "FACEMATCH_BLOBS__KEY",
        "FACEMATCH_TOKENS__SECRET",
    ):
        monkeypatch.setenv(key, environment[key])
    assert main(["partner", "create", "Local demo", "--onboarding-partner", "LOCAL-BE-FACE_MATCH"]) == 0
    client_id = next(
        line.split(":", 1)[1].strip()
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("client-id:")
    )
    assert main(["partner", "set-callback", client_id, "http://127.0.0.1:8101/webhook"]) == 0
    assert "http://127.0.0.1:8101/webhook" in capsys.readouterr().out
    monkeypatch.setenv("FACEMATCH_ENVIRONMENT", "test")  # elsewhere the same URL is refused
    assert main(["partner", "set-callback", client_id, "http://127.0.0.1:8101/webhook"]) == 2
    assert "INVALID_CALLBACK_URL" in capsys.readouterr().err
