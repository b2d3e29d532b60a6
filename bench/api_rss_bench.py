"""Memory of the API process under sustained synchronous compares.

Starts ``facematch serve --dev`` (real engine, SQLite) in a temporary directory on the first free
port in 8300-8399, then posts ``--compares`` synchronous compares (``POST
/coe-partner/v1/face-match``) one after another, each a selfie against a reference that cycles
through every single-person image of ``../shared/faces`` (so a cache keyed by faces would grow
with every distinct pair), and samples the server's resident set size (VmRSS of the process and
its children) every ``--every`` compares.

Usage: python bench/api_rss_bench.py --shared ../shared [--compares 2000] [--json bench/out/api_rss.json]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx


def free_port(low: int = 8300, high: int = 8399) -> int:
    for port in range(low, high + 1):
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.bind(("127.0.0.1", port))
            return port
    raise SystemExit(f"no free port in {low}-{high}")


def rss_mib(pid: int) -> float:
    """VmRSS of ``pid`` and its descendants, MiB."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                stack += [int(c) for c in children]
    return total / 1024


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--compares", type=int, default=2000)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    faces = args.shared / "faces"
    with (faces / "identities.csv").open() as handle:
        names = sorted(r["file"] for r in csv.DictReader(handle) if r["identity"] != "MULTIPLE")
    images = [(faces / "images" / n).read_bytes() for n in names if "partial" not in n]
    selfie = (faces / "images" / "obama.jpg").read_bytes()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        env = {**os.environ, "FACEMATCH_SERVER__PUBLIC_URL": f"http://127.0.0.1:{port}"}
        log = (workdir / "server.log").open("wb")
        binary = Path(sys.executable).with_name("facematch")
        process = subprocess.Popen(
            [str(binary), "serve", "--dev", "--port", str(port)], cwd=workdir, env=env, stdout=log, stderr=log
        )
        log.close()
        url = f"http://127.0.0.1:{port}"
        samples: list[dict[str, float]] = []
        outcomes: dict[str, int] = {}
        try:
            deadline = time.monotonic() + 120
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                        break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit((workdir / "server.log").read_text()[-3000:])
                time.sleep(0.2)
            credentials = json.loads((workdir / "var" / "demo-partner.json").read_text())
            headers = {"client-id": credentials["clientId"], "pass-key": credentials["passKey"]}
            token = httpx.get(url + "/v1/coe/partner/authentication", headers=headers, timeout=10).json()[
                "data"
            ]["token"]
            samples.append({"compares": 0, "rss_mib": rss_mib(process.pid), "seconds": 0.0})
            started = time.monotonic()
            with httpx.Client(timeout=120) as client:
                for i in range(1, args.compares + 1):
                    response = client.post(
                        url + "/coe-partner/v1/face-match",
                        headers={
                            "x-onekyc-token": token,
                            "x-partner-session-id": str(uuid.uuid4()),
                            "x-partner-user-id": "rss-bench",
                            "x-partner-user-id-type": "BENCH",
                        },
                        files={
                            "selfie": ("s.jpg", selfie, "image/jpeg"),
                            "reference": ("r.jpg", images[i % len(images)], "image/jpeg"),
                        },
                    )
                    if response.status_code != 200:
                        raise SystemExit(f"compare {i}: {response.status_code} {response.text[:300]}")
                    result = str(response.json()["data"].get("result"))
                    outcomes[result] = outcomes.get(result, 0) + 1
                    if i % args.every == 0:
                        sample = {
                            "compares": i,
                            "rss_mib": round(rss_mib(process.pid), 1),
                            "seconds": round(time.monotonic() - started, 1),
                        }
                        samples.append(sample)
                        print(
                            f"  {i:5d} compares  RSS {sample['rss_mib']:.1f} MiB  {sample['seconds']:.0f} s",
                            file=sys.stderr,
                        )
                        if args.json:
                            args.json.parent.mkdir(parents=True, exist_ok=True)
                            args.json.write_text(
                                json.dumps({"samples": samples, "outcomes": outcomes}, indent=2)
                            )
        finally:
            process.terminate()
            process.wait(30)
    report = {"port": port, "distinct_references": len(images), "samples": samples, "outcomes": outcomes}
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
