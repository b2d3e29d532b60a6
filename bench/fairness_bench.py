"""Fair capacity: while partner F floods synchronous compares, how are partner V's compares served?

A real ``facematch serve --dev`` (real engine, SQLite) on a free port, two partners: the demo
partner floods (``--flood-clients`` clients sending compares back to back, ordinary photos or
``--heavy`` 4096x4096 PNG selfies, the most a compare may cost), while the other partner sends
``--compares`` compares one after the other. Partner V's compares are first timed alone (its idle
figure), then under the flood. The same run is made twice, side by side: with partners' fair
shares as shipped (``FACEMATCH_LIMITS__PARTNER_SHARE`` 0.5) and without them (1: every request
waits in one queue, as before). Printed: p50/p95 and the answers' status codes of both partners.

Usage: python bench/fairness_bench.py --shared ../shared [--heavy] [--json bench/out/fairness.json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
from PIL import Image

from facematch.engine.images import decode_image
from servers import create_partner, partner_token, start_server

SELFIE, REFERENCE = "obama.jpg", "obama2.jpg"
ONBOARDING = "DEMO-BE-FACE_MATCH"


def heavy_selfie(face: bytes) -> bytes:
    """A 4096x4096 PNG of the face: at the decode budget, about 0.6 s of CPU per analysis."""
    rgb = decode_image(face).rgb
    big = cv2.resize(rgb, (4096, 4096 * rgb.shape[0] // rgb.shape[1]), interpolation=cv2.INTER_LINEAR)
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(big[:4096, :4096])).save(out, "PNG", compress_level=1)
    return out.getvalue()


def compare(http: httpx.Client, url: str, token: str, selfie: bytes, reference: bytes) -> tuple[str, float]:
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
    started = time.perf_counter()
    answer = http.post(url + "/coe-partner/v1/face-match", headers=headers, files=files)
    seconds = time.perf_counter() - started
    if answer.status_code == 200:
        return "200", seconds
    return f"{answer.status_code} {answer.json()['errors'][0]['cause']}", seconds


def summary(samples: list[tuple[str, float]]) -> dict[str, Any]:
    served = sorted(seconds for status, seconds in samples if status == "200")
    codes = Counter(status for status, _ in samples)
    if not served:
        return {"n": len(samples), "codes": dict(codes)}
    p95 = served[min(len(served) - 1, round(0.95 * (len(served) - 1)))]
    return {
        "n": len(samples),
        "p50_s": round(statistics.median(served), 3),
        "p95_s": round(p95, 3),
        "codes": dict(sorted(codes.items())),
    }


def quiet_run(url: str, token: str, count: int, images: tuple[bytes, bytes]) -> list[tuple[str, float]]:
    with httpx.Client(timeout=120) as http:
        return [compare(http, url, token, *images) for _ in range(count)]


def run(
    workdir: Path, env: dict[str, str], args: argparse.Namespace, images: dict[str, bytes]
) -> dict[str, Any]:
    process, url, demo = start_server(workdir, env)
    try:
        flood_token = partner_token(url, demo)
        quiet_token = partner_token(url, create_partner(workdir, "Quiet partner", ONBOARDING))
        pair = (images["selfie"], images["reference"])
        quiet_run(url, quiet_token, 5, pair)  # warm-up
        idle = quiet_run(url, quiet_token, args.compares, pair)
        flooding = threading.Event()
        flooding.set()
        flood: list[tuple[str, float]] = []
        lock = threading.Lock()
        flood_selfie = images["heavy"] if args.heavy else images["selfie"]

        def flooder() -> None:
            with httpx.Client(timeout=120) as http:
                while flooding.is_set():
                    sample = compare(http, url, flood_token, flood_selfie, images["reference"])
                    with lock:
                        flood.append(sample)

        threads = [threading.Thread(target=flooder) for _ in range(args.flood_clients)]
        for thread in threads:
            thread.start()
        time.sleep(3)  # the flood has filled what it can
        loaded = quiet_run(url, quiet_token, args.compares, pair)
        flooding.clear()
        for thread in threads:
            thread.join()
    finally:
        process.terminate()
        process.wait(120)
    return {"quiet_idle": summary(idle), "quiet_under_flood": summary(loaded), "flood": summary(flood)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--compares", type=int, default=20, help="the quiet partner's compares, per phase")
    parser.add_argument("--flood-clients", type=int, default=40)
    parser.add_argument("--heavy", action="store_true", help="the flood sends 4096x4096 PNG selfies")
    parser.add_argument(
        "--configs",
        default="share_off,shipped",
        help="share_off (FACEMATCH_LIMITS__PARTNER_SHARE=1) and/or shipped (the settings as they are)",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    folder = args.shared / "faces" / "images"
    face = (folder / SELFIE).read_bytes()
    images = {"selfie": face, "reference": (folder / REFERENCE).read_bytes(), "heavy": heavy_selfie(face)}
    result: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "load_average_at_start": os.getloadavg()[0],
        "flood": {"clients": args.flood_clients, "heavy": args.heavy},
    }
    configs = {"share_off": {"FACEMATCH_LIMITS__PARTNER_SHARE": "1"}, "shipped": {}}
    labels = args.configs.split(",")
    for label in labels:
        env = configs[label]
        with tempfile.TemporaryDirectory() as tmp:
            result[label] = run(Path(tmp), {"FACEMATCH_SUBMISSIONS__WORKERS": "0", **env}, args, images)
        print(label, json.dumps(result[label]), flush=True)
    print(
        f"{'':16} {'quiet alone p50/p95':>22} {'quiet under flood p50/p95':>28} {'ratio':>6} "
        f"{'quiet codes':>14} {'flood p50/p95':>16} flood codes"
    )
    for label in labels:
        row = result[label]
        idle, loaded, flood = row["quiet_idle"], row["quiet_under_flood"], row["flood"]
        print(
            f"{label:16} {idle.get('p50_s')!s:>10}/{idle.get('p95_s')!s:<11} "
            f"{loaded.get('p50_s')!s:>14}/{loaded.get('p95_s')!s:<13} "
            f"{loaded.get('p50_s', 0) / idle.get('p50_s', 1):>5.2f}x {json.dumps(loaded['codes']):>14} "
            f"{flood.get('p50_s')!s:>8}/{flood.get('p95_s')!s:<7} {json.dumps(flood['codes'])}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
