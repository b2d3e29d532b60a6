"""Starting a real ``facematch serve --dev`` for a benchmark (real engine, SQLite, a temp directory)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    workdir: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str, dict[str, str]]:
    """``facematch serve --dev`` in ``workdir``: (process, base URL, demo partner credentials)."""
    port = free_port()
    full_env = {**os.environ, "FACEMATCH_SERVER__PUBLIC_URL": f"http://127.0.0.1:{port}", **(env or {})}
    log = (workdir / "server.log").open("wb")
    binary = Path(sys.executable).with_name("facematch")
    process = subprocess.Popen(
        [str(binary), "serve", "--dev", "--port", str(port)],
        cwd=workdir,
        env=full_env,
        stdout=log,
        stderr=log,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                credentials = json.loads((workdir / "var" / "demo-partner.json").read_text())
                return process, url, credentials
        if process.poll() is not None:
            raise SystemExit((workdir / "server.log").read_text()[-3000:])
        time.sleep(0.2)
    raise SystemExit("server did not become ready")


def partner_token(url: str, credentials: dict[str, str]) -> str:
    headers = {"client-id": credentials["clientId"], "pass-key": credentials["passKey"]}
    response = httpx.get(url + "/v1/coe/partner/authentication", headers=headers, timeout=10)
    response.raise_for_status()
    return str(response.json()["data"]["token"])


def rss_mib(pid: int) -> float:
    """Resident set size of a process (Linux /proc), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def create_partner(workdir: Path, name: str, onboarding: str) -> dict[str, str]:
    """A partner made with ``facematch partner create`` in the server's folder: its credentials as
    the token calls take them (``clientId``, ``passKey``)."""
    binary = Path(sys.executable).with_name("facematch")
    out = subprocess.run(
        [str(binary), "partner", "create", name, "--onboarding-partner", onboarding],
        cwd=workdir,
        env={**os.environ, "FACEMATCH_ENVIRONMENT": "development"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return {"clientId": fields["client-id"].strip(), "passKey": fields["pass-key"].strip()}
