"""``facematch serve`` and ``facematch worker`` migrate the database at start unless ``--no-migrate``
(the cluster's deploy step is ``facematch db upgrade``)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import uvicorn

import facematch.logs
import facematch.worker.process
from facematch.cli.main import main
from facematch.storage.db import current_revision
from servicekit import service_env


@pytest.mark.parametrize(
    "command", [["serve"], ["worker", "--jobs", "0", "--deliveries", "0"]], ids=["serve", "worker"]
)
@pytest.mark.parametrize("no_migrate", [True, False], ids=["no-migrate", "migrate"])
def test_processes_migrate_at_start_unless_told_not_to(
    command: list[str], no_migrate: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"  # a database nothing has migrated yet
    for key, value in service_env(url, tmp_path).items():
        monkeypatch.setenv(key, value)
    served: list[str] = []  # the process gets as far as serving, then returns at once
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: served.append("api"))
    monkeypatch.setattr(facematch.worker.process, "run_worker", lambda svc, **_: served.append("worker"))
    monkeypatch.setattr(signal, "signal", lambda *_: None)
    monkeypatch.setattr(facematch.logs, "configure_logging", lambda *_: None)  # the suite's own handlers stay
    assert main([*command, *(["--no-migrate"] if no_migrate else [])]) == 0
    assert served == ["api" if command[0] == "serve" else "worker"]
    assert (current_revision(url) is None) is no_migrate
