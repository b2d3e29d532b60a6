"""``facematch serve`` and ``facematch worker`` migrate the database at start unless ``--no-migrate``
(the cluster's deploy step is ``facematch db upgrade``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import uvicorn

import facematch.logs
import facematch.worker.process
from facematch.cli.main import main
from facematch.storage.db import current_revision
from servicekit import free_port, service_env, wait_for


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


def test_a_worker_without_jobs_is_ready_without_an_engine(database_url: str, tmp_path: Path) -> None:
    """`facematch worker --jobs 0` (callbacks and sweeps only) never loads an engine: the one
    readiness rule does not wait for one, and reports the image store as the API does."""
    port = free_port()
    env = {**os.environ, **service_env(database_url, tmp_path)}
    binary = Path(sys.executable).with_name("facematch")
    worker = subprocess.Popen(
        [str(binary), "worker", "--jobs", "0", "--no-migrate", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def ready() -> dict[str, object] | None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
            except httpx.TransportError:
                return None
            return answer.json() if answer.status_code == 200 else None

        assert wait_for(ready) == {"status": "ready", "database": True, "engine": None, "blobs": True}
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0
