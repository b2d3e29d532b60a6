"""Which head moves do five landmarks measure reliably? The noise of each pose estimate, on the
tune half of the development set.

For each frontal photo (|yaw| < 0.08) of the half: the photo and a copy as a hand-held camera sees
it a moment later (2% shake, JPEG q85) are observed by the engine; the *repeatability* of an
estimate is the spread (standard deviation) of its change between the two, with no move made.
The *person spread* is the standard deviation of the estimate over the frontal photos of one
person (other days, expressions, lighting: changes that are not the move), pooled over people.
A move is worth asking for when the change it makes is many times both. Estimates:

* ``yaw``: the nose tip along the eye line, in eye distances (turn left/right; ~0.24 at 25°);
* ``pitch``: where the nose tip sits between the eye line and the mouth line (0: at the eyes,
  1: at the mouth) (nod up/down);
* ``roll``: the eye line's angle, degrees (tilt; a 2D rotation, which any print can make);
* ``size``: eye midpoint to mouth midpoint over the frame width, as a ratio (come closer).

Usage: python bench/liveness_moves_bench.py --shared ../shared --half tune
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import devset
from facematch.engine.facade import FaceEngine
from facematch.engine.images import decode_image
from facematch.engine.liveness import pose as head
from facematch.engine.types import FrameObservation
from liveness_bench import FRONTAL, Observer, shake


def estimates(obs: FrameObservation) -> dict[str, float]:
    marks = head.as_landmarks(obs.landmarks)
    eye_mid, mouth_mid = marks[:2].mean(axis=0), marks[3:5].mean(axis=0)
    axis = mouth_mid - eye_mid
    eye_vec = marks[1] - marks[0]
    return {
        "yaw": obs.yaw,
        "pitch": float((marks[2] - eye_mid) @ axis / (axis @ axis)),
        "roll": float(np.degrees(np.arctan2(eye_vec[1], eye_vec[0]))),
        "size": obs.size,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--half", choices=("tune", "report"), default="tune")
    parser.add_argument("--max-photos", type=int, default=400)
    args = parser.parse_args()
    observer = Observer(FaceEngine.load())
    root = args.shared / "faces-more"
    with (root / "identities.csv").open() as handle:
        rows = [r for r in csv.DictReader(handle) if devset.half_of(r["identity"]) == args.half]
    rng = np.random.default_rng(18)
    changes: dict[str, list[float]] = {}
    by_person: dict[str, dict[str, list[float]]] = {}
    used = 0
    for row in rows:
        if used >= args.max_photos:
            break
        rgb = decode_image((root / row["file"]).read_bytes()).rgb
        first = observer.frame(rgb)
        if first.face_count != 1 or abs(first.yaw) >= FRONTAL:
            continue
        second = observer.frame(shake(rgb, rng))
        if second.face_count != 1:
            continue
        used += 1
        a, b = estimates(first), estimates(second)
        for name in a:
            change = b[name] / a[name] - 1 if name == "size" else b[name] - a[name]
            changes.setdefault(name, []).append(change)
            by_person.setdefault(row["identity"], {}).setdefault(name, []).append(a[name])
    print(
        f"{args.half}: {used} frontal photos; repeatability = sd of the change under camera shake, "
        "person spread = pooled sd over one person's frontal photos"
    )
    print("| estimate | repeatability (sd) | person spread (sd) |")
    print("|---|---|---|")
    for name, values in changes.items():
        spreads = [statistics.pvariance(v[name]) for v in by_person.values() if len(v.get(name, [])) >= 2]
        pooled = float(np.sqrt(np.mean(spreads))) if spreads else float("nan")
        print(f"| {name} | {statistics.pstdev(values):.4f} | {pooled:.4f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
