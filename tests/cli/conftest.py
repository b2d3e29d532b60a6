"""The command line's tests: the environment of a deployment on the test session's database."""

from __future__ import annotations

from pathlib import Path

import pytest

from servicekit import service_env


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in service_env(database_url, tmp_path).items():
        monkeypatch.setenv(key, value)
    return tmp_path
