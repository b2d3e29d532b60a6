"""Review band benchmark: how many pairs land in a band below the accept threshold, and the FAR/FRR
of the engine alone against the engine plus the band (band pairs counted as "needs a human").

Pairs come from ../shared/faces-more (LFW): the first image is the selfie as it is, the second is
the reference, as it is (``original``) or turned into a document-style derivative in memory
(``id_card_36``: a 36 px grey card portrait, re-photographed; see bench/degrade.py). Nothing
is written to disk but the report.

The accept threshold is the engine's default (fixed before this benchmark). Fixed-width bands
``[threshold - w, threshold)`` need no tuning; the data-chosen bands (the lower bound that halves
the engine's false rejects, and the one that sends at most 2% of all pairs to a person) are chosen
on one half of the identities and reported on the other half (split by a hash of the identity
name; a pair is in a half when both its people are). A pair whose images yield no usable face is a
non-match (counted in FRR), and never goes to review (quality failures never enter the queue).

With a band, the engine still accepts exactly what it accepted alone (the band is below the
threshold), so the automatic FAR does not change; the engine alone rejects every band pair, the
engine plus band leaves them to a reviewer. "FRR (auto)" counts the genuine pairs rejected without
a person looking; "FAR if approved" is the false-accept rate if reviewers approved every band pair
(the worst case a reviewer could make of it).

Pairs whose two people fall in different halves are left out (they belong to neither).

Usage: python bench/review_band_bench.py --shared ../shared [--json bench/out/review_band.json]
       [--variants original,id_card_36] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

import degrade
from facematch.engine.facade import EngineOptions, FaceEngine
from facematch.engine.images import decode_image
from facematch.engine.types import FaceAnalysis, ImageRole
from facematch.errors import FacematchError

WIDTHS = (0.02, 0.05, 0.08, 0.12)
REVIEW_BUDGET = 0.02


@dataclass(frozen=True, slots=True)
class Pair:
    genuine: bool
    similarity: float | None
    half: str
    """``tune`` or ``test``: the half both people are in."""


def half_of(identity: str) -> str:
    return "tune" if zlib.crc32(identity.encode()) % 2 == 0 else "test"


FAILURES: Counter[str] = Counter()
"""Why images yielded no usable face: ``role/CODE`` → images."""


def analyse(engine: FaceEngine, data: bytes, role: ImageRole, variant: str = "") -> FaceAnalysis | None:
    try:
        return engine.analyze(data, role)
    except FacematchError as error:
        FAILURES[f"{variant or 'original'}/{role.value}/{error.code}"] += 1
        return None


def derive(data: bytes, name: str, face: FaceAnalysis | None, variant: str) -> bytes | None:
    if variant == "original":
        return data
    if face is None:
        return None  # no box to cut the card portrait around
    rgb = decode_image(data).rgb
    if variant.startswith("id_card_"):
        return degrade.id_card(rgb, face.box, int(variant.rsplit("_", 1)[1]), seed=zlib.crc32(name.encode()))
    raise ValueError(variant)


def rates(pairs: list[Pair], threshold: float, low: float | None) -> dict[str, Any]:
    genuine = [p for p in pairs if p.genuine]
    impostor = [p for p in pairs if not p.genuine]

    def sims(group: list[Pair]) -> np.ndarray:
        return np.array([-2.0 if p.similarity is None else p.similarity for p in group])

    g, i = sims(genuine), sims(impostor)
    out: dict[str, Any] = {
        "pairs": len(pairs),
        "genuine": len(g),
        "impostor": len(i),
        "far": float((i >= threshold).mean()),
        "false_accepts": int((i >= threshold).sum()),
        "frr_engine": float((g < threshold).mean()),
        "frr_engine_compared": float((g[g > -2.0] < threshold).mean()) if (g > -2.0).any() else None,
    }
    if low is not None:
        g_band = (g >= low) & (g < threshold)
        i_band = (i >= low) & (i < threshold)
        out.update(
            {
                "band_low": low,
                "review_share": float((g_band.sum() + i_band.sum()) / len(pairs)),
                "in_band": int(g_band.sum() + i_band.sum()),
                "genuine_in_band": float(g_band.mean()),
                "impostor_in_band": float(i_band.mean()),
                "frr_auto": float((g < low).mean()),
                "far_if_approved": float((i >= low).mean()),
            }
        )
    return out


def chosen_bands(tune: list[Pair], threshold: float) -> dict[str, float]:
    """Lower bounds chosen on the tune half: the band holding half of the genuine pairs the engine
    rejects on similarity (pairs without a usable face never reach review), and the widest band
    that sends at most REVIEW_BUDGET of all pairs to a person."""
    rejected = sorted(
        p.similarity for p in tune if p.genuine and p.similarity is not None and p.similarity < threshold
    )
    below = sorted(
        (p.similarity for p in tune if p.similarity is not None and p.similarity < threshold), reverse=True
    )
    out = {}
    if rejected:
        out["halve_similarity_frr"] = rejected[len(rejected) // 2]
    budget = int(REVIEW_BUDGET * len(tune))
    if below and budget:
        out["review_2pct"] = below[min(len(below) - 1, budget - 1)]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--json", type=Path, default=Path("bench/out/review_band.json"))
    parser.add_argument("--variants", default="original,id_card_36")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--limit", type=int, default=0, help="only the first N pairs (a quick look)")
    args = parser.parse_args()
    root = args.shared / "faces-more"
    cv2.setNumThreads(1)
    engine = FaceEngine.load(EngineOptions(threads=1))
    threshold = engine.threshold
    with (root / "identities.csv").open() as handle:
        identity = {row["file"]: row["identity"] for row in csv.DictReader(handle)}
    with (root / "pairs.csv").open() as handle:
        rows = [(r["image_a"], r["image_b"], r["same_person"] == "yes") for r in csv.DictReader(handle)]
    if args.limit:
        rows = rows[: args.limit]
    # only pairs whose two people are in the same half are reported (or used to choose a band)
    rows = [r for r in rows if half_of(identity[r[0]]) == half_of(identity[r[1]])]
    # grouped by selfie, so the engine's cache of a selfie brought to a reference's conditions is
    # reused across that selfie's pairs (the order changes no number)
    rows.sort(key=lambda r: (r[0], r[1]))
    names = sorted({n for a, b, _ in rows for n in (a, b)})
    started = time.time()
    data = {name: (root / name).read_bytes() for name in names}
    with ThreadPoolExecutor(args.workers) as pool:
        selfies = dict(
            zip(names, pool.map(lambda n: analyse(engine, data[n], ImageRole.SELFIE), names), strict=True)
        )
        boxes = dict(
            zip(
                names,
                pool.map(lambda n: analyse(engine, data[n], ImageRole.REFERENCE, "box"), names),
                strict=True,
            )
        )
    print(
        f"{len(rows)} pairs, {len(names)} images analysed in {time.time() - started:.0f} s", file=sys.stderr
    )
    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "model": engine.model_version,
        "threshold": threshold,
        "pairs": len(rows),
        "variants": {},
    }
    for variant in args.variants.split(","):
        t0 = time.time()

        def reference(name: str, variant: str = variant) -> FaceAnalysis | None:
            made = derive(data[name], name, boxes[name], variant)
            return None if made is None else analyse(engine, made, ImageRole.REFERENCE, variant)

        with ThreadPoolExecutor(args.workers) as pool:
            refs = dict(zip(names, pool.map(reference, names), strict=True))

        def score(row: tuple[str, str, bool], refs: dict[str, FaceAnalysis | None] = refs) -> Pair:
            a, b, same = row
            sa, rb = selfies[a], refs[b]
            sim = None if sa is None or rb is None else engine.compare_analyses(sa, rb).similarity
            return Pair(same, sim, half_of(identity[a]))

        with ThreadPoolExecutor(args.workers) as pool:
            pairs = list(pool.map(score, rows, chunksize=512))
        tune = [p for p in pairs if p.half == "tune"]
        test = [p for p in pairs if p.half == "test"]
        fixed = {f"width_{w:g}": rates(test, threshold, round(threshold - w, 4)) for w in WIDTHS}
        chosen = {name: rates(test, threshold, low) for name, low in chosen_bands(tune, threshold).items()}
        failed = sum(p.similarity is None for p in pairs)
        report["variants"][variant] = {
            "failed_pairs": failed,
            "test_half_engine": rates(test, threshold, None),
            "fixed_bands_test_half": fixed,
            "chosen_on_tune_half_reported_on_test_half": chosen,
            "test_half_pairs": len(test),
            "tune_half_pairs": len(tune),
            "seconds": round(time.time() - t0, 1),
        }
        compared = report["variants"][variant]["test_half_engine"]["frr_engine_compared"]
        print(
            f"\n{variant}: {failed} failed pairs, test half {len(test)} pairs ({time.time() - t0:.0f} s); "
            f"FRR among the test half's compared pairs {compared:.2%}",
            file=sys.stderr,
        )
        print(
            "| band | review load | genuine in band | impostor in band | FRR engine | FRR (auto) | FAR "
            "| FAR if approved |"
        )
        for name, r in {**fixed, **chosen}.items():
            print(
                f"| {name} [{r['band_low']:.3f}, {threshold:.3f}) | "
                f"{r['review_share']:.2%} ({r['in_band']}) | "
                f"{r['genuine_in_band']:.2%} | {r['impostor_in_band']:.3%} | {r['frr_engine']:.2%} | "
                f"{r['frr_auto']:.2%} | {r['far']:.3%} | {r['far_if_approved']:.3%} |"
            )
        report["image_failures"] = dict(sorted(FAILURES.items()))
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
