"""The hosted flow's capture request (``POST /web/api/capture``), timed side by side for two trees.

Each tree (this checkout, and ``--baseline SRC_ROOT``: another checkout or ``git archive`` export of
facematch, e.g. before a change) runs in child processes of its own with its own ``src`` and
``tests`` on the path: the real engine, a temporary SQLite database, the app in process with no
background work (nothing decides the attempts meanwhile). Per capture, a new web flow is started
through the public API (partner token, Initiate Flow, launch token → web session) and only the
capture request is timed: a 1280 px JPEG (q92, as the app sends) of a real photo from
``../shared/faces``. The trees take turns round by round, so the machine's load falls on both.

    .venv/bin/python bench/capture_bench.py --shared ../shared --baseline /tmp/before --rounds 6 --captures 20
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
PHOTO = "images/p_img21.jpg"


def capture_image(shared: Path) -> bytes:
    from PIL import Image

    photo = Image.open(shared / "faces" / PHOTO).convert("RGB")
    scale = 1280 / photo.width
    photo = photo.resize((1280, round(photo.height * scale)), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    photo.save(out, format="JPEG", quality=92)
    return out.getvalue()


def child(shared: Path, captures: int) -> dict[str, Any]:
    """Runs inside the tree under test (its ``src`` and ``tests`` first on sys.path)."""
    import warnings

    from facematch.api.app import create_app
    from facematch.engine.facade import FaceEngine
    from facematch.storage.db import migrate
    from servicekit import ONBOARDING, create_partner, make_settings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    image = capture_image(shared)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/facematch.db"
        migrate(url)
        settings = make_settings(url, Path(tmp), FACEMATCH_WEB__CAPTURES_PER_SESSION_PER_MINUTE="1000")
        app = create_app(settings, engine=FaceEngine.load(), background=False)
        with TestClient(app, base_url="https://facematch.test") as client:
            creds = create_partner(app.state.services.db)
            auth = {"client-id": creds.client_id, "pass-key": creds.passkey}
            user = {
                "x-partner-user-id": "bench",
                "x-partner-user-id-type": "BENCH",
                "x-onboarding-partner": ONBOARDING,
            }
            times: list[float] = []
            for number in range(captures + 1):  # the first one warms up
                token = client.get("/v1/coe/partner/authentication", headers=auth).json()["data"]["token"]
                started = client.post(
                    "/coe-partner/v1/initiate-flow",
                    headers={"x-onekyc-token": token, "x-partner-session-id": f"bench-{number}", **user},
                    json={
                        "flow": "FACE_MATCH",
                        "source": "WEB_SDK",
                        "successRedirectionUrl": "https://partner.test/ok",
                        "failureRedirectionUrl": "https://partner.test/fail",
                    },
                )
                launch = started.json()["data"]["launchUrl"].split("token=", 1)[1]
                session = client.post("/web/api/session", json={"launchToken": launch}).json()["sessionToken"]
                began = time.perf_counter()
                answer = client.post(
                    "/web/api/capture",
                    content=image,
                    headers={"x-web-session": session, "content-type": "image/jpeg"},
                )
                elapsed = time.perf_counter() - began
                assert answer.status_code == 200, answer.text
                if number:
                    times.append(elapsed * 1000)
    return {"times_ms": times, "image_bytes": len(image)}


def run_child(root: Path, shared: Path, captures: int) -> list[float]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root / "src"), str(root / "tests")])
    env["FACEMATCH_BENCH_CHILD"] = "1"
    command = [sys.executable, str(HERE), "--child", "--shared", str(shared), "--captures", str(captures)]
    done = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{root}: the child failed\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return [float(t) for t in result["times_ms"]]


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    p50, mean = statistics.median(times), statistics.fmean(times)
    return f"n={len(times)}  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  mean {mean:6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=HERE.parents[2] / "shared")
    parser.add_argument("--baseline", type=Path, help="another facematch tree to time beside this one")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--captures", type=int, default=20, help="timed captures per round and tree")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    shared = args.shared.resolve()
    if args.child:
        print(json.dumps(child(shared, args.captures)))
        return
    trees = {"this tree": HERE.parents[1]}
    if args.baseline:
        trees = {"baseline": args.baseline.resolve(), **trees}
    times: dict[str, list[float]] = {name: [] for name in trees}
    for round_number in range(args.rounds):
        order = list(trees.items())
        if round_number % 2:
            order.reverse()
        for name, root in order:
            times[name] += run_child(root, shared, args.captures)
        print(
            f"round {round_number + 1}/{args.rounds}: "
            + "; ".join(f"{n} {summary(t)}" for n, t in times.items())
        )
    print()
    for name, root in trees.items():
        print(f"{name:10s} ({root}): {summary(times[name])}")
    if args.baseline:
        ratio = statistics.median(times["this tree"]) / statistics.median(times["baseline"])
        print(f"median capture time, this tree / baseline: {ratio:.2f}")
    if args.json:
        from benchio import save_json

        save_json(
            args.json, {name: {"root": str(root), "times_ms": times[name]} for name, root in trees.items()}
        )


if __name__ == "__main__":
    main()
