"""Partner API benchmark: the synchronous compare (``POST /coe-partner/v1/face-match``) over HTTP.

Starts ``facematch serve --dev`` (real engine, SQLite) on a free port in a temporary directory,
unless ``--url`` and ``--credentials`` point at a running one, then measures:
* latency with one client (p50 / p95 / mean over ``--requests`` compares, after warm-up);
* throughput with ``--clients`` concurrent clients (compares per second over ``--seconds``).
Each compare sends two ~1 MP JPEGs as multipart and records a submission, like a partner would.

Usage: python bench/api_bench.py --shared ../shared [--json bench/out/api.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

from servers import partner_token, start_server

SELFIE, REFERENCE = "obama.jpg", "obama4.jpg"  # 910x1137 and 1480x832 JPEGs of one person


class Compare:
    def __init__(self, url: str, credentials: dict[str, str], selfie: bytes, reference: bytes) -> None:
        self.url = url
        self.selfie = selfie
        self.reference = reference
        self.token = partner_token(url, credentials)

    def once(self, client: httpx.Client) -> float:
        headers = {
            "x-onekyc-token": self.token,
            "x-partner-session-id": str(uuid.uuid4()),
            "x-partner-user-id": "bench",
            "x-partner-user-id-type": "BENCH",
        }
        files = {
            "selfie": ("s.jpg", self.selfie, "image/jpeg"),
            "reference": ("r.jpg", self.reference, "image/jpeg"),
        }
        started = time.perf_counter()
        response = client.post(self.url + "/coe-partner/v1/face-match", headers=headers, files=files)
        elapsed = time.perf_counter() - started
        data = response.json()["data"]
        if response.status_code != 200 or data["result"] != "VALID":
            raise SystemExit(f"unexpected answer: {response.status_code} {response.text[:300]}")
        return elapsed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--url", default=None, help="a running facematch (default: start one)")
    parser.add_argument("--credentials", type=Path, default=None, help="demo-partner.json of --url")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    images = args.shared / "faces" / "images"
    selfie, reference = (images / SELFIE).read_bytes(), (images / REFERENCE).read_bytes()
    process = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.url:
            url, credentials = args.url, json.loads(args.credentials.read_text())
        else:
            process, url, credentials = start_server(Path(tmp))
        try:
            compare = Compare(url, credentials, selfie, reference)
            with httpx.Client(timeout=60) as client:
                for _ in range(5):
                    compare.once(client)
                single = [compare.once(client) for _ in range(args.requests)]
            done = 0
            lock = threading.Lock()
            stop_at = time.monotonic() + args.seconds

            def worker() -> None:
                nonlocal done
                with httpx.Client(timeout=60) as client:
                    while time.monotonic() < stop_at:
                        compare.once(client)
                        with lock:
                            done += 1

            started = time.monotonic()
            threads = [threading.Thread(target=worker) for _ in range(args.clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
        finally:
            if process is not None:
                process.terminate()
                process.wait(20)
    result = {
        "images": [SELFIE, REFERENCE],
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "single_client": {
            "requests": len(single),
            "p50_ms": round(percentile(single, 0.5) * 1000, 1),
            "p95_ms": round(percentile(single, 0.95) * 1000, 1),
            "mean_ms": round(statistics.mean(single) * 1000, 1),
        },
        "concurrent": {"clients": args.clients, "compares": done, "seconds": round(elapsed, 1),
                       "per_second": round(done / elapsed, 2)},
    }  # fmt: skip
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
