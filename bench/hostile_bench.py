"""What hostile images cost: CPU per image, and the API process's memory under 2,000 of them.

1. CPU per image (in process, one thread, the real engine): each hostile image through
   ``FaceEngine.analyze`` with the shipped decode budget, and side by side with the budget for
   full-size decodes lifted to the JPEG cap (50 MP), which is what the same bytes cost before.
2. RSS of a real ``facematch serve --dev`` over 2,000 hostile synchronous compares (after a warm-up
   of ordinary compares), sampled every 100 requests, once with freed memory handed back to the
   operating system (the default) and once without (``FACEMATCH_LIMITS__RELEASE_MEMORY=false``).

Usage: python bench/hostile_bench.py --shared ../shared [--json bench/out/hostile.json] [--requests 2000]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
from PIL import Image

from facematch.engine.facade import EngineOptions, FaceEngine
from facematch.engine.images import decode_image, encode_jpeg
from facematch.engine.types import ImageRole
from facematch.errors import FacematchError
from servers import partner_token, rss_mib, start_server

FACE = "obama.jpg"


def _save(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def hostile_images(face: bytes) -> dict[str, bytes]:
    """Images that are small on the wire and as large as they may be, or larger, once decoded."""
    rgb = decode_image(face).rgb
    big = np.ascontiguousarray(cv2.resize(rgb, (4096, 4096 * rgb.shape[0] // rgb.shape[1]), cv2.INTER_LINEAR))
    side = np.ascontiguousarray(big[:4096, :4096])
    huge_jpeg = np.ascontiguousarray(cv2.resize(rgb, (8000, 6000), cv2.INTER_LINEAR))
    return {
        "webp_7000x7000_lossless": _save(Image.new("RGB", (7000, 7000), (90, 90, 90)), "WEBP", lossless=True),
        "png_7000x7000_1bit": _save(Image.new("1", (7000, 7000), 1), "PNG", compress_level=9),
        "png_4096x4096_face (at the budget)": _save(Image.fromarray(side), "PNG", compress_level=1),
        "webp_4096x4096_face (at the budget)": _save(Image.fromarray(side), "WEBP", quality=80),
        "jpeg_8000x6000_face (48 MP)": encode_jpeg(huge_jpeg, quality=80),
        "jpeg_truncated": encode_jpeg(rgb)[:20_000],
        "random_bytes_with_png_magic": b"\x89PNG\r\n\x1a\n" + os.urandom(30_000),
    }


def cpu_per_image(images: dict[str, bytes], repeats: int) -> list[dict[str, Any]]:
    shipped = FaceEngine.load(EngineOptions())
    lifted = FaceEngine.load(EngineOptions(max_full_decode_pixels=50_000_000))
    rows = []
    for name, data in images.items():
        row: dict[str, Any] = {"image": name, "bytes": len(data)}
        for label, engine in (("shipped", shipped), ("budget_lifted", lifted)):
            times, outcome = [], ""
            for _ in range(repeats):
                started = time.process_time()
                try:
                    engine.analyze(data, ImageRole.SELFIE)
                    outcome = "face"
                except FacematchError as error:
                    outcome = error.code
                times.append(time.process_time() - started)
            row[label] = {"cpu_ms": round(1000 * min(times), 1), "outcome": outcome}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def rss_run(
    face: bytes, images: dict[str, bytes], requests: int, *, release: bool, clients: int
) -> dict[str, Any]:
    hostile = list(images.values())
    with tempfile.TemporaryDirectory() as tmp:
        env = {"FACEMATCH_LIMITS__RELEASE_MEMORY": "true" if release else "false"}
        process, url, credentials = start_server(Path(tmp), env)
        try:
            token = partner_token(url, credentials)

            def compare(client: httpx.Client, selfie: bytes) -> int:
                headers = {
                    "x-onekyc-token": token,
                    "x-partner-session-id": str(uuid.uuid4()),
                    "x-partner-user-id": "bench",
                    "x-partner-user-id-type": "BENCH",
                }
                files = {
                    "selfie": ("s", selfie, "application/octet-stream"),
                    "reference": ("r.jpg", face, "image/jpeg"),
                }
                return client.post(
                    url + "/coe-partner/v1/face-match", headers=headers, files=files
                ).status_code

            def warm_up() -> None:  # on every thread the server will use, as real traffic does
                with httpx.Client(timeout=120) as client:
                    for _ in range(10):
                        compare(client, face)

            warmers = [threading.Thread(target=warm_up) for _ in range(clients)]
            for thread in warmers:
                thread.start()
            for thread in warmers:
                thread.join()
            warm = rss_mib(process.pid)
            curve = [(0, round(warm, 1))]
            statuses: dict[int, int] = {}
            done = 0
            lock = threading.Lock()

            def worker(offset: int) -> None:
                nonlocal done
                with httpx.Client(timeout=120) as client:
                    while True:
                        with lock:
                            if done >= requests:
                                return
                            index = done
                            done += 1
                        status = compare(client, hostile[(index + offset) % len(hostile)])
                        with lock:
                            statuses[status] = statuses.get(status, 0) + 1
                            if (index + 1) % 100 == 0:
                                curve.append((index + 1, round(rss_mib(process.pid), 1)))

            started = time.monotonic()
            threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
            final = rss_mib(process.pid)
        finally:
            process.terminate()
            process.wait(30)
    result = {
        "release_memory": release,
        "requests": requests,
        "clients": clients,
        "seconds": round(elapsed, 1),
        "statuses": statuses,
        "rss_after_warmup_mib": round(warm, 1),
        "rss_final_mib": round(final, 1),
        "rss_max_mib": max(value for _, value in curve),
        "final_over_warmup": round(final / warm, 3),
        "curve": sorted(curve),
    }
    print(json.dumps({k: v for k, v in result.items() if k != "curve"}), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-cpu", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    face = (args.shared / "faces" / "images" / FACE).read_bytes()
    images = hostile_images(face)
    result: dict[str, Any] = {"cpus": os.cpu_count(), "machine": platform.machine(), "face": FACE}
    if not args.skip_cpu:
        result["cpu_per_image"] = cpu_per_image(images, args.repeats)
    result["rss"] = [
        rss_run(face, images, args.requests, release=release, clients=args.clients)
        for release in (True, False)
    ]
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
