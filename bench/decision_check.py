"""Decisions and scores of every labelled pair of ``../shared/faces``, two trees side by side: they must
be identical.

Each tree (``--baseline SRC_ROOT``, e.g. ``git archive <rev> src | tar -x -C /tmp/before``, and this
checkout) runs in a child process with its own ``src`` first on the path, the real engine, and
decides every pair of ``pairs.csv`` the two ways the service does:

* **backend**: both images become stored derivatives (``flows.submissions.make_derivative``) and
  the job decides on those (``flows.processing.decide``), as an SDK or backend submission is decided;
* **sync**: the synchronous compare's way: the selfie as that request decodes it (once, since the
  selfie is decoded a single time for its derivative and its analysis), the reference's bytes.

Printed: how many pairs differ in status, result, reason code, score or similarity (exactly, not
within a tolerance), and the first differences.

    .venv/bin/python bench/decision_check.py --shared ../shared --baseline /tmp/before
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()


def child(shared: Path) -> dict[str, Any]:
    """Runs inside the tree under test."""
    from facematch.config import Settings
    from facematch.engine.facade import FaceEngine
    from facematch.flows import processing
    from facematch.flows.submissions import make_derivative
    from facematch.services import engine_options

    settings = Settings()
    engine = FaceEngine.load(engine_options(settings))

    class Svc:
        def require_engine(self) -> FaceEngine:
            return engine

    svc: Any = Svc()
    folder = shared / "faces" / "images"
    with (shared / "faces" / "pairs.csv").open() as handle:
        pairs = [(row["image_a"], row["image_b"]) for row in csv.DictReader(handle)]
    names = sorted({name for pair in pairs for name in pair})
    originals = {name: (folder / name).read_bytes() for name in names}
    derivatives: dict[str, bytes | None] = {}
    for name in names:
        try:
            derivatives[name] = make_derivative(originals[name], settings)
        except Exception:  # an image the upload refuses: no submission would exist
            derivatives[name] = None
    decode_once = getattr(processing, "decode_for_storage", None)  # the tree decodes the selfie once

    def view(decision: Any) -> list[Any]:
        return [
            str(decision.status),
            str(decision.result),
            str(decision.reason_code),
            decision.score,
            decision.similarity,
        ]

    out: dict[str, Any] = {}
    for a, b in pairs:
        key = f"{a}|{b}"
        selfie, reference = derivatives[a], derivatives[b]
        backend = (
            view(processing.decide(svc, selfie, reference))
            if selfie is not None and reference is not None
            else "refused at upload"
        )
        sync_selfie: Any = originals[a]
        if decode_once is not None:
            try:
                sync_selfie = decode_once(originals[a], settings)
            except Exception:
                sync_selfie = originals[a]  # the request passes the bytes: the engine refuses them
        sync = view(processing.decide(svc, sync_selfie, originals[b]))
        out[key] = {"backend": backend, "sync": sync}
    return out


def run_child(root: Path, shared: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "FACEMATCH_ENVIRONMENT": "development"}
    command = [sys.executable, str(HERE), "--child", "--shared", str(shared)]
    done = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{root}: the child failed\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=HERE.parents[2] / "shared")
    parser.add_argument("--baseline", type=Path, required=False, help="the other tree (its src/)")
    parser.add_argument("--tree", type=Path, default=HERE.parents[1], help="the tree under test")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    shared = args.shared.resolve()
    if args.child:
        print(json.dumps(child(shared)))
        return
    mine = run_child(args.tree.resolve(), shared)
    if args.baseline is None:
        print(json.dumps(mine, indent=1))
        return
    theirs = run_child(args.baseline.resolve(), shared)
    differ = [key for key in mine if mine[key] != theirs.get(key)]
    print(f"{len(mine)} pairs, two paths each; pairs whose decision or score differ: {len(differ)}")
    for key in differ[:10]:
        print(f"  {key}: baseline {theirs.get(key)} / this tree {mine[key]}")
    if differ:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
