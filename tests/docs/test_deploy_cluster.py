"""docs/deploy.md's "A small cluster on one machine", pasted as it is: PostgreSQL, SeaweedFS, Redis,
an API process, a worker and the demo partner come up from exactly those commands, and the smoke
test's signed callback reaches the partner.

The only changes made to the commands are the ports, database, bucket and key prefix this test
picks (so that it runs beside anything else on the machine); the commands themselves are the
document's, so they cannot drift from what works.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
from pathlib import Path

import pytest

from s3kit import _ports
from servicekit import free_port
from test_readme_walkthrough import blocks_between

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "docs" / "deploy.md"
SHARED = ROOT.parent / "shared"
SECTION = ("## A small cluster on one machine", "## Keys and secrets")
#: stops at the first failing command, and ends every background process with the shell
SAFETY_NET = "set -eu -o pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true; wait' EXIT\n"


@pytest.mark.slow
@pytest.mark.postgresql
def test_the_one_machine_cluster_comes_up_from_the_documents_commands(tmp_path: Path) -> None:
    if not os.environ.get("FACEMATCH_TEST_DATABASE_URL", "").startswith("postgresql"):
        pytest.skip("PostgreSQL only (the suite runs again on PostgreSQL)")
    blocks = blocks_between(DEPLOY.read_text(), *SECTION)
    commands: list[str] = []
    shown: dict[int, str] = {}  # command index -> what the document shows it prints
    for block in blocks:
        if block.lang == "sh":
            commands.append(block.text)
        else:
            shown[len(commands) - 1] = block.text
    assert len(commands) == 7

    weed = _ports(5)
    ports = {8100: free_port(), 8101: free_port(), 8190: free_port(), 8333: weed[0], 9333: weed[1]}
    ports |= {8081: weed[2], 8888: weed[3], 23646: weed[4]}
    names = {"facematch_trial": f"fm_trial_{secrets.token_hex(4)}"}
    names["facematch-trial"] = f"facematch-trial-{secrets.token_hex(4)}"
    script = "".join(f"echo '@@{i}@@'\n{command}" for i, command in enumerate(commands))
    for documented, real in ports.items():
        script = re.sub(rf"(?<!\d){documented}(?!\d)", str(real), script)
    for documented_name, real_name in names.items():
        script = script.replace(documented_name, real_name)
    work = tmp_path / "facematch"
    work.mkdir()
    (tmp_path / "shared").symlink_to(SHARED)
    (work / ".venv").symlink_to(ROOT / ".venv")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("FACEMATCH_", "DEMO_"))}
    shell = subprocess.Popen(
        # the test's own safety net: whatever happens, the background processes end with the shell
        [
            "bash",
            "-c",
            "set -eu -o pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true; wait' EXIT\n" + script,
        ],
        cwd=work,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = shell.communicate(timeout=600)
    finally:
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
            shell.wait()
        subprocess.run(
            [
                "dropdb",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "--if-exists",
                "--force",
                names["facematch_trial"],
            ],
            check=False,
            capture_output=True,
        )
    logs = {p.name: p.read_text(errors="replace")[-2000:] for p in (work / "var" / "trial").glob("*.log")}
    assert shell.returncode == 0, (err[-3000:], logs)
    for real_name, documented_name in ((v, k) for k, v in names.items()):
        out = out.replace(real_name, documented_name)
    for documented, real in ports.items():
        out = out.replace(f"127.0.0.1:{real}", f"127.0.0.1:{documented}")
    printed = re.split(r"^@@\d+@@\n", out, flags=re.MULTILINE)[1:]
    assert [p.strip() for p in printed] == [shown.get(i, "").strip() for i in range(len(commands))]
    assert not (work / "var" / "trial").exists()  # the last block cleaned up


def test_the_shown_revision_is_the_newest_migration() -> None:
    """The cluster run above needs PostgreSQL; this keeps its shown revision true on every pass."""
    versions = ROOT / "src" / "facematch" / "storage" / "migrations" / "versions"
    newest = max(path.name[:4] for path in versions.glob("[0-9][0-9][0-9][0-9]_*.py"))
    assert f"database at revision {newest}\n" in DEPLOY.read_text()
