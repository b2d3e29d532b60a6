"""Web SDK figures for BENCHMARKS.md: page weight, page start time, capture-to-result time, and the
live guidance's data use and hint latency.

Runs a real facematch (real engine, temporary SQLite) and the demo partner on loopback, and drives
Debian Chromium with a fake camera through N complete redirect-mode flows (same person):

    .venv/bin/python bench/web_bench.py --shared ../shared --runs 10

"capture → result" is measured in the browser from the tap on "Send photo" to the status screen;
"server" is the submission's confirmed_at → completed_at (reference fetch + analysis + decision).

    .venv/bin/python bench/web_bench.py --shared ../shared --guidance [--window-s 60] [--baseline-ref main]

measures the guidance on the capture screen (auto-capture off, so the user stays there): bytes of
preview upload per minute for a still face, an empty scene, a restless camera and a face that comes
and goes, and the hint latency (the camera's picture changes → the hint changes) on loopback and
on emulated 4G and slow-3G links, each side by side with the app as it is at ``--baseline-ref``
(its page files served in place of the current ones, against the same server).
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

# The e2e harness (clips, servers) lives with the tests; the bench reuses it rather than copy it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from sqlalchemy import select

from e2e.browser import PreviewMeter, launch_chromium, new_page, take_selfie
from e2e.clips import empty_frame, face_frame, flicker_frames, write_sequence, write_y4m
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


STATIC = ("index.html", "app.js", "app.css", "i18n.js")
#: Emulated links (Chromium's network conditions): latency in ms, throughput in bytes per second.
NETWORKS: dict[str, dict[str, float] | None] = {
    "loopback": None,
    "4G (40 ms, 3 Mbit/s up)": {"latency": 40, "downloadThroughput": 9e6 / 8, "uploadThroughput": 3e6 / 8},
    "slow 3G (400 ms, 400 kbit/s)": {"latency": 400, "downloadThroughput": 5e4, "uploadThroughput": 5e4},
}
#: Watches, in the page, the camera picture and the hint: when the picture switches (face ↔ wall)
#: and every hint shown.
WATCH = """() => {
  const log = window.__fmLog = {switches: [], hints: []};
  const canvas = document.createElement('canvas'); canvas.width = 16; canvas.height = 12;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  let last = null;
  const look = () => {
    const video = document.getElementById('video');
    if (video && video.videoWidth) {
      ctx.drawImage(video, 0, 0, 16, 12);
      const px = ctx.getImageData(0, 0, 16, 12).data;
      if (last) {
        let diff = 0;
        for (let i = 0; i < px.length; i += 4) diff += Math.abs(px[i] - last[i]);
        if (diff / (px.length / 4) > 25) log.switches.push(performance.now());
      }
      last = px;
    }
    requestAnimationFrame(look);
  };
  requestAnimationFrame(look);
  new MutationObserver(() => {
    log.hints.push([performance.now(), document.getElementById('guidance').getAttribute('data-hint')]);
  }).observe(document.getElementById('guidance'), {attributes: true, attributeFilter: ['data-hint']});
}"""
Stack = tuple[str, str, Path]
#: The hints that say "a face is there" (not: no face, waiting, offline, paused).
FACE_HINTS = frozenset(
    {"READY", "MULTIPLE_FACES", "MOVE_CLOSER", "MOVE_BACK", "CENTER_FACE", "MORE_LIGHT", "LESS_LIGHT"}
    | {"HOLD_STILL", "LOOK_STRAIGHT", "ADJUST"}
)


def baseline_files(ref: str) -> dict[str, bytes] | None:
    """The page's files at git revision ``ref`` (None when git or the revision is not there)."""
    files = {}
    for name in STATIC:
        shown = subprocess.run(
            ["git", "show", f"{ref}:src/facematch/web/static/{name}"], capture_output=True, check=False
        )
        if shown.returncode != 0:
            return None
        files[name] = shown.stdout
    return files


def serve_files(page: Any, facematch_url: str, files: dict[str, bytes] | None) -> None:
    """Serve the page's files from ``files`` instead of the server's (the server's headers kept)."""
    if files is None:
        return
    types = {"html": "text/html", "js": "text/javascript", "css": "text/css"}

    def fulfil(route: Any) -> None:
        name = route.request.url.split("?")[0].rsplit("/", 1)[1]
        response = route.fetch()
        route.fulfill(response=response, body=files[name], content_type=types[name.rsplit(".", 1)[1]])

    page.route(facematch_url + "/web/index.html", fulfil)
    for name in STATIC[1:]:
        page.route(f"{facematch_url}/web/static/{name}", fulfil)


def open_capture(page: Any, demo_url: str, reference: Path) -> None:
    page.goto(demo_url + "/")
    page.set_input_files("#reference", str(reference))
    page.click("#start")
    page.locator("#screen-landing").wait_for(state="visible")
    page.check("#consent")
    page.click("#btn-start")
    page.locator("#screen-capture").wait_for(state="visible")
    page.locator("#guidance:not([data-hint=WAIT])").wait_for()


def bytes_per_minute(browser: Any, stack: Stack, files: Any, window_s: float) -> tuple[float, int]:
    """Preview bytes uploaded per minute (and frames) over ``window_s`` seconds on the capture screen."""
    facematch_url, demo_url, reference = stack
    page = new_page(browser)
    serve_files(page, facematch_url, files)
    meter = PreviewMeter(page)
    open_capture(page, demo_url, reference)
    started = time.monotonic()
    page.wait_for_timeout(window_s * 1000)
    sent = meter.since(started)
    page.context.close()
    return sum(sent) * 60 / window_s, len(sent)


def hint_latencies(browser: Any, stack: Stack, files: Any, network: Any, seconds: float) -> list[float]:
    """Seconds from each switch of the camera picture to the first hint that fits the new picture:
    NO_FACE after the face left, a hint about the face after it came."""
    facematch_url, demo_url, reference = stack
    page = new_page(browser)
    serve_files(page, facematch_url, files)
    open_capture(page, demo_url, reference)
    if network is not None:
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", {"offline": False, **network})
    page.evaluate(WATCH)
    page.wait_for_timeout(seconds * 1000)
    log = page.evaluate("window.__fmLog")
    page.context.close()
    hints, switches = log["hints"], log["switches"]
    latencies = []
    for number, at in enumerate(switches):
        until = switches[number + 1] if number + 1 < len(switches) else float("inf")
        before = [hint for when, hint in hints if when < at]
        face_left = bool(before) and before[-1] != "NO_FACE"
        fits = [
            when
            for when, hint in hints
            if at <= when < until and ((hint == "NO_FACE") if face_left else hint in FACE_HINTS)
        ]
        if fits:
            latencies.append((fits[0] - at) / 1000)
    return latencies


def guidance_figures(driver: Any, scenes: dict[str, Path], stack: Stack, args: Any) -> None:
    baseline = baseline_files(args.baseline_ref)
    apps: dict[str, dict[str, bytes] | None] = {"this app": None}
    if baseline is not None:
        apps[f"app at {args.baseline_ref}"] = baseline
    print(f"preview upload per minute on the capture screen ({args.window_s:.0f} s windows):")
    for scene, clip in scenes.items() if args.only != "latency" else ():
        browser = launch_chromium(driver, clip)  # one camera at a time: the machine has 2 cores
        for app, files in apps.items():
            rate, frames = bytes_per_minute(browser, stack, files, args.window_s)
            print(f"  {scene:<28} {app:<16} {rate / 1048576:6.3f} MiB/min  ({frames} frames)", flush=True)
        browser.close()
    if args.only == "bytes":
        return
    print("hint latency, camera picture switch → fitting hint (face and wall alternate every 2 s):")
    browser = launch_chromium(driver, scenes["face comes and goes (2 s)"])
    for network_name, network in NETWORKS.items():
        for app, files in apps.items():
            values = hint_latencies(browser, stack, files, network, args.latency_s)
            if not values:
                print(f"  {network_name:<30} {app:<16} no switch was followed by a fitting hint")
                continue
            p50, p95 = statistics.median(values) * 1000, pct(values, 0.95) * 1000
            line = f"p50 {p50:5.0f} ms  p95 {p95:5.0f} ms  (n={len(values)})"
            print(f"  {network_name:<30} {app:<16} {line}", flush=True)
    browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--guidance", action="store_true", help="guidance data use and hint latency")
    parser.add_argument("--window-s", type=float, default=60.0, help="guidance: bytes measured over this")
    parser.add_argument("--latency-s", type=float, default=30.0, help="guidance: latency measured over this")
    parser.add_argument("--baseline-ref", default="main", help="guidance: the app to compare with (git)")
    parser.add_argument("--only", choices=("bytes", "latency"), help="guidance: one of the two figures")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    images = args.shared / "faces" / "images"
    engine = FaceEngine.load()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'bench.db'}"
        migrate(url)
        face = face_frame(images / "p_img21.jpg", engine)
        clip = write_y4m(face, folder / "same.y4m")
        demo_port = free_port()
        demo_url = f"http://127.0.0.1:{demo_port}"
        with live_app(url, folder / "data", engine=engine) as facematch:
            creds = create_partner(
                facematch.services.db,
                frame_origins=[demo_url],
                reference_hosts=["127.0.0.1"],
                max_attempts=20,
                callback_url=demo_url + "/webhook",
                auto_capture=not args.guidance,  # guidance: the user stays on the capture screen
            )
            config = DemoConfig(
                facematch.url,
                demo_url,
                PartnerCredentials(creds.client_id, creds.passkey, ONBOARDING, creds.webhook_secret),
            )
            with LiveServer(create_demo_app(config), demo_port), sync_playwright() as driver:
                if args.guidance:
                    wall = empty_frame()
                    comes_and_goes = [face] * 20 + [wall] * 20  # 2 s each at 10 frames/s
                    scenes = {
                        "still face": clip,
                        "empty scene": write_y4m(wall, folder / "wall.y4m"),
                        "restless camera": write_sequence(flicker_frames(), folder / "flicker.y4m"),
                        "face comes and goes (2 s)": write_sequence(comes_and_goes, folder / "moving.y4m"),
                    }
                    guidance_figures(driver, scenes, (facematch.url, demo_url, images / "p_img20.jpg"), args)
                    return 0
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
