"""Web SDK figures for BENCHMARKS.md: page weight, page start time, and capture-to-result time.

Runs a real facematch (real engine, temporary SQLite) and the demo partner on loopback, and drives
Debian Chromium with a fake camera through N complete redirect-mode flows (same person):

    .venv/bin/python bench/web_bench.py --shared ../shared --runs 10

"capture → result" is measured in the browser from the tap on "Send photo" to the status screen;
"server" is the submission's confirmed_at → completed_at (reference fetch + analysis + decision).
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

# The e2e harness (clips, servers) lives with the tests; the bench reuses it rather than copy it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from sqlalchemy import select

from e2e.browser import launch_chromium, new_page, take_selfie
from e2e.clips import face_frame, write_y4m
from facematch.demo_partner.app import DemoConfig, create_demo_app
from facematch.demo_partner.client import PartnerCredentials
from facematch.engine.facade import FaceEngine
from facematch.storage.db import migrate
from facematch.storage.models import Submission
from servicekit import ONBOARDING, LiveServer, create_partner, free_port, live_app

PREVIEW = "/web/api/preview"
CAPTURE = "/web/api/capture"


def page_weight() -> list[tuple[str, int, int]]:
    static = resources.files("facematch.web") / "static"
    rows = []
    for name in ("index.html", "app.js", "app.css", "i18n.js"):
        data = (static / name).read_bytes()
        rows.append((name, len(data), len(gzip.compress(data, 9))))
    return rows


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_flow(page: Any, demo_url: str, reference: Path) -> tuple[float, float]:
    """One redirect-mode flow; returns (launch → landing, capture → result) in seconds."""
    page.goto(demo_url + "/")
    page.set_input_files("#reference", str(reference))
    started = time.monotonic()
    page.click("#start")
    page.locator("#screen-landing").wait_for(state="visible")
    ready = time.monotonic() - started
    sent = take_selfie(page)
    page.locator("#screen-status").wait_for(state="visible")
    return ready, time.monotonic() - sent


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    images = args.shared / "faces" / "images"
    engine = FaceEngine.load()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'bench.db'}"
        migrate(url)
        clip = write_y4m(face_frame(images / "p_img21.jpg", engine), folder / "same.y4m")
        demo_port = free_port()
        demo_url = f"http://127.0.0.1:{demo_port}"
        with live_app(url, folder / "data", engine=engine) as facematch:
            creds = create_partner(
                facematch.services.db,
                frame_origins=[demo_url],
                reference_hosts=["127.0.0.1"],
                max_attempts=20,
                callback_url=demo_url + "/webhook",
            )
            config = DemoConfig(
                facematch.url,
                demo_url,
                PartnerCredentials(creds.client_id, creds.passkey, ONBOARDING, creds.webhook_secret),
            )
            with LiveServer(create_demo_app(config), demo_port), sync_playwright() as driver:
                browser = launch_chromium(driver, clip)
                starts, results = [], []
                for run in range(args.runs + 1):
                    page = new_page(browser)
                    ready, elapsed = run_flow(page, demo_url, images / "p_img20.jpg")
                    page.context.close()
                    if run:  # the first run warms caches
                        starts.append(ready)
                        results.append(elapsed)
                browser.close()
            registry = facematch.services.metrics.registry
            served = {
                (route, key): registry.get_sample_value(
                    f"facematch_http_request_duration_seconds_{key}", {"route": route}
                )
                or 0.0
                for route in (PREVIEW, CAPTURE)
                for key in ("sum", "count")
            }
            with facematch.services.db.session() as session:
                rows = session.execute(
                    select(Submission.confirmed_at, Submission.completed_at)
                    .where(Submission.completed_at.is_not(None))
                    .order_by(Submission.confirmed_at)
                ).all()
                server = [
                    (done - confirmed).total_seconds() for confirmed, done in rows if confirmed and done
                ]
    print("page weight (the page's own files):")
    total = total_gz = 0
    for name, size, packed in page_weight():
        total += size
        total_gz += packed
        print(f"  {name:<11} {size:>7,} B  gzip {packed:>6,} B")
    print(f"  {'total':<11} {total:>7,} B  gzip {total_gz:>6,} B")
    print(f"runs: {len(results)} (after one warm-up)")
    for route, label in ((PREVIEW, "guidance preview"), (CAPTURE, "capture request")):
        count = served[(route, "count")]
        if count:
            mean = served[(route, "sum")] / count
            print(f"  {label + ' (server)':<28} mean {mean * 1000:6.0f} ms over {count:.0f} requests")
    for label, values in (
        ("launch → landing", starts),
        ("capture → result (browser)", results),
        ("confirm → decided (server)", server[1:]),
    ):
        p50, p95, worst = (statistics.median(values), pct(values, 0.95), max(values))
        print(
            f"  {label:<28} p50 {p50 * 1000:6.0f} ms   p95 {p95 * 1000:6.0f} ms   max {worst * 1000:6.0f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
