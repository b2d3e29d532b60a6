"""Memory under the campaign's hostile compares: does any image pin memory past its analysis?

A real ``facematch serve --dev`` (real engine, SQLite, the default two analysis slots) on a free
port, two partners (so both analysis threads work), ``--clients`` clients. After a warm-up of
ordinary compares (``obama.jpg`` against ``obama2.jpg``) on every client, RSS is the warmed-up
figure; then ``--requests`` synchronous compares whose selfie is, in turn, one of the hostile
corpus of ``tests/imagekit.py`` (``hostile_corpus``: bombs inside the caps, 16-bit and
patched-dimension files, other formats renamed, animations, EXIF variants, polyglots, random
mutants of the photo; made in memory, nothing stored), sampled every 100 requests, at the end,
and after ``--idle`` seconds without requests.

Usage: python bench/hostile_memory_bench.py --shared ../shared [--requests 2000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from servers import create_partner, partner_token, rss_mib, start_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from imagekit import hostile_corpus

SELFIE, REFERENCE = "obama.jpg", "obama2.jpg"
ONBOARDING = "DEMO-BE-FACE_MATCH"


def compare(http: httpx.Client, url: str, token: str, selfie: bytes, reference: bytes) -> str:
    headers = {
        "x-onekyc-token": token,
        "x-partner-session-id": str(uuid.uuid4()),
        "x-partner-user-id": "bench",
        "x-partner-user-id-type": "BENCH",
    }
    files = {
        "selfie": ("s", selfie, "application/octet-stream"),
        "reference": ("r.jpg", reference, "image/jpeg"),
    }
    answer = http.post(url + "/coe-partner/v1/face-match", headers=headers, files=files)
    if answer.status_code == 200:
        return "200 " + str(answer.json()["data"].get("status"))
    return f"{answer.status_code} {answer.json()['errors'][0]['cause']}"


def run(args: argparse.Namespace, face: bytes, reference: bytes) -> dict[str, Any]:
    corpus = list(hostile_corpus(face).items())
    with tempfile.TemporaryDirectory() as tmp:
        process, url, demo = start_server(Path(tmp), {"FACEMATCH_SUBMISSIONS__WORKERS": "0"})
        try:
            tokens = [
                partner_token(url, demo),
                partner_token(url, create_partner(Path(tmp), "Second partner", ONBOARDING)),
            ]

            def warm_up(n: int) -> None:
                with httpx.Client(timeout=120) as http:
                    for _ in range(10):
                        compare(http, url, tokens[n % 2], face, reference)

            threads = [threading.Thread(target=warm_up, args=(n,)) for n in range(args.clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            warm = rss_mib(process.pid)
            print(f"warmed up: {warm:.1f} MiB", flush=True)
            curve: list[tuple[int, float]] = [(0, round(warm, 1))]
            outcomes: Counter[str] = Counter()
            kinds: dict[str, Counter[str]] = {}
            lock = threading.Lock()
            done = 0

            def client(n: int) -> None:
                nonlocal done
                with httpx.Client(timeout=120) as http:
                    while True:
                        with lock:
                            if done >= args.requests:
                                return
                            index = done
                            done += 1
                        name, selfie = corpus[index % len(corpus)]
                        outcome = compare(http, url, tokens[n % 2], selfie, reference)
                        with lock:
                            outcomes[outcome] += 1
                            kinds.setdefault(name, Counter())[outcome] += 1
                            if (index + 1) % 100 == 0:
                                curve.append((index + 1, round(rss_mib(process.pid), 1)))
                                print(f"{index + 1}: {curve[-1][1]} MiB", flush=True)

            started = time.monotonic()
            threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
            end = rss_mib(process.pid)
            time.sleep(args.idle)
            idle = rss_mib(process.pid)
        finally:
            process.terminate()
            process.wait(120)
    return {
        "warm_mib": round(warm, 1),
        "end_mib": round(end, 1),
        "idle_mib": round(idle, 1),
        "end_over_warm": round(end / warm, 2),
        "idle_over_warm": round(idle / warm, 2),
        "peak_mib": max(value for _, value in curve),
        "curve": curve,
        "outcomes": dict(outcomes.most_common()),
        "per_kind": {name: dict(counts) for name, counts in kinds.items()},
        "seconds": round(elapsed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--idle", type=float, default=10.0, help="seconds without requests before the last sample"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    folder = args.shared / "faces" / "images"
    result: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "load_average_at_start": os.getloadavg()[0],
        "requests": args.requests,
        "clients": args.clients,
    }
    result.update(run(args, (folder / SELFIE).read_bytes(), (folder / REFERENCE).read_bytes()))
    print(
        f"warm {result['warm_mib']} MiB, end {result['end_mib']} MiB ({result['end_over_warm']}x), "
        f"idle {result['idle_mib']} MiB ({result['idle_over_warm']}x), peak {result['peak_mib']} MiB; "
        f"{result['requests']} compares in {result['seconds']} s: {json.dumps(result['outcomes'])}"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
