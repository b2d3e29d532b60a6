"""Engine benchmark on the development set (../shared/faces-more), split by identity.

For each variant (see ``bench/devset.py``) and each system, in one run: failure to acquire (the
``image_b`` derivatives without a usable face), TAR at FAR 1e-3 (the empirical threshold on the
variant's own impostor pairs; failed pairs are non-matches), and CPU per ``image_b`` image (thread
CPU time of the analysis: decode, detection, alignment, embeddings) with its ratio to OpenCV Zoo's
plain YuNet+SFace recipe, which runs on the same images in the same run. facematch's own decision
(its calibrated, quality-banded threshold) is reported too: the FAR and TAR it gives per band.

``--half tune --calibrate-bands FILE``: build the quality bands from the tune half's impostor pairs
and write them into the calibration FILE (the bundled one is
``src/facematch/engine/calibration/sface_2021dec_int8bq.json``). Report only with ``--half report``.

Usage:
  python bench/engine_dev_bench.py --shared ../shared --half report --json bench/out/dev_report.json
  python bench/engine_dev_bench.py --shared ../shared --half tune --variants grey_card24,... \\
      --calibrate-bands src/facematch/engine/calibration/sface_2021dec_int8bq.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import devset
import engine_bench
from benchio import save_json
from engine_bench import PlainOpenCV, System
from facematch.engine.calibrate import BandedImpostor, Calibration, calibrate_bands
from facematch.engine.evaluation import BandTally, PairScore, tar_at_far
from facematch.engine.facade import EngineOptions, FaceEngine
from facematch.engine.images import decode_image
from facematch.engine.templates import AdaptedTemplates
from facematch.engine.types import ImageRole, MatchResult


class Facematch(engine_bench.Facematch):
    """facematch, with the run's own store of condition-matched templates (as ``facematch eval``)."""

    def __init__(self, engine: FaceEngine) -> None:
        super().__init__(engine)
        self.adapted = AdaptedTemplates(maxsize=50_000)

    def similarity(self, selfie: Any, reference: Any) -> float:
        return self.engine.compare_analyses(selfie, reference, self.adapted).similarity


def analyse_all(
    system: System, jobs: list[tuple[str, Callable[[], bytes]]], workers: int
) -> tuple[dict[str, Any], list[float]]:
    """Each job's result and the thread CPU seconds its analysis took (derivation not counted)."""

    def one(job: tuple[str, Callable[[], bytes]]) -> tuple[str, Any, float]:
        data = job[1]()
        started = time.thread_time()
        result = system.embed(data, ImageRole.REFERENCE)
        return job[0], result, time.thread_time() - started

    with ThreadPoolExecutor(workers if system.thread_safe else 1) as pool:
        out = list(pool.map(one, jobs))
    return {name: result for name, result, _ in out}, [cpu for _, _, cpu in out]


def derivative_jobs(ds: devset.DevSet, variant: str) -> list[tuple[str, Callable[[], bytes]]]:
    def make(name: str) -> Callable[[], bytes]:
        def build() -> bytes:
            data = (ds.root / name).read_bytes()
            return devset.derive(variant, name, data, lambda: devset.lfw_box(decode_image(data).rgb))

        return build

    return [(name, make(name)) for name in ds.files]


def all_pairs(ds: devset.DevSet) -> list[tuple[str, str, bool]]:
    """Every ordered pair of distinct images: same identity genuine, different identity impostor."""
    return [(a, b, ds.identities[a] == ds.identities[b]) for a in ds.files for b in ds.files if a != b]


def score_pairs(
    system: System, pairs: list[tuple[str, str, bool]], selfies: dict[str, Any], refs: dict[str, Any]
) -> tuple[list[PairScore], list[MatchResult | None]]:
    """Each pair's similarity and, for facematch, its whole verdict."""
    scores, verdicts = [], []
    for a, b, same in pairs:
        sa, rb = selfies[a], refs[b]
        if sa is None or rb is None:
            scores.append(PairScore(same, None))
            verdicts.append(None)
        elif isinstance(system, Facematch):
            result = system.engine.compare_analyses(sa, rb, system.adapted)
            scores.append(PairScore(same, result.similarity))
            verdicts.append(result)
        else:
            scores.append(PairScore(same, system.similarity(sa, rb)))
    return scores, verdicts


def decisions(pairs: list[tuple[str, str, bool]], verdicts: list[MatchResult | None]) -> BandTally:
    """facematch's own verdicts per calibration band, and the banded impostors (for --calibrate-bands)."""
    tally = BandTally()
    for (_, _, same), result in zip(pairs, verdicts, strict=True):
        if result is not None:
            tally.add(result, same)
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--half", choices=("tune", "report"), required=True)
    parser.add_argument("--variants", default=",".join(devset.VARIANTS))
    parser.add_argument("--systems", default="facematch,opencv")
    parser.add_argument("--max-identities", type=int, default=None)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--calibrate-bands", type=Path, default=None, metavar="CALIBRATION.json")
    parser.add_argument("--no-jitter", action="store_true", help="ablation: small-face jitter off")
    parser.add_argument("--jitter-crops", type=int, default=2, help="ablation: re-alignments per small face")
    parser.add_argument(
        "--all-pairs",
        action="store_true",
        help="every ordered pair of distinct images instead of the labelled pairs.csv rows",
    )
    args = parser.parse_args()
    cv2.setNumThreads(1)
    ds = devset.load(args.shared, args.half, max_identities=args.max_identities)
    identities = {ds.identities[f] for f in ds.files}
    labelled = all_pairs(ds) if args.all_pairs else ds.pairs
    genuine = sum(p[2] for p in labelled)
    print(
        f"{args.half} half: {len(identities)} identities, {len(ds.files)} images, "
        f"{genuine} genuine and {len(labelled) - genuine} impostor pairs",
        file=sys.stderr,
    )
    engine = FaceEngine.load(
        EngineOptions(threads=1, small_face_jitter=not args.no_jitter, jitter_crops=args.jitter_crops)
    )
    wanted = args.systems.split(",")
    systems: list[System] = []
    if "facematch" in wanted:
        systems.append(Facematch(engine))
    if "opencv" in wanted:
        systems.append(PlainOpenCV())
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()},
        "half": args.half,
        "identities": len(identities),
        "images": len(ds.files),
        "genuine_pairs": genuine,
        "impostor_pairs": len(labelled) - genuine,
        "pairs": "every ordered pair of distinct images" if args.all_pairs else "pairs.csv rows",
        "variants": {},
    }
    selfie_sets: dict[tuple[str, str], dict[str, Any]] = {}
    banded: list[BandedImpostor] = []
    for variant in args.variants.split(","):
        row: dict[str, Any] = {}
        for system in systems:
            key = (system.name, devset.side_a(variant))
            if key not in selfie_sets:
                selfie_sets[key], _ = analyse_all(
                    system, derivative_jobs(ds, devset.side_a(variant)), args.workers
                )
            selfies = selfie_sets[key]
            refs, cpu = analyse_all(system, derivative_jobs(ds, variant), args.workers)
            pairs, verdicts = score_pairs(system, labelled, selfies, refs)
            point = tar_at_far(pairs, 1e-3)
            entry: dict[str, Any] = {
                "fta": sum(r is None for r in refs.values()) / len(refs),
                "failed_pairs": sum(p.similarity is None for p in pairs),
                "tar_at_far_1e-3": point.tar,
                "threshold_at_far_1e-3": point.threshold,
                "impostor_pairs": sum(not p.genuine for p in pairs),
                "genuine_pairs": sum(p.genuine for p in pairs),
                "cpu_ms_per_image": 1000 * float(np.mean(cpu)),
                "cpu_ms_p90": 1000 * float(np.percentile(cpu, 90)),
            }
            if isinstance(system, Facematch):
                tally = decisions(labelled, verdicts)
                entry["bands"] = tally.counts
                banded += tally.impostors
                rotations: dict[str, int] = {}
                for r in refs.values():
                    if r is not None:
                        rotations[str(r.rotation)] = rotations.get(str(r.rotation), 0) + 1
                entry["rotations_found"] = rotations
            row[system.name] = entry
            print(
                f"  {variant:16} {system.name:20} FTA {entry['fta']:6.2%}  TAR@FAR1e-3 {point.tar:6.2%}  "
                f"CPU {entry['cpu_ms_per_image']:6.1f} ms/image",
                file=sys.stderr,
            )
        if "facematch" in row and "opencv-yunet-sface" in row:
            row["cpu_ratio"] = (
                row["facematch"]["cpu_ms_per_image"] / row["opencv-yunet-sface"]["cpu_ms_per_image"]
            )
            print(f"  {variant:16} CPU ratio facematch / plain: {row['cpu_ratio']:.2f}", file=sys.stderr)
        report["variants"][variant] = row
        save_json(args.json, report)
    if args.calibrate_bands:
        if args.half != "tune":
            parser.error("calibrate only on the tune half")
        bands, counted, _ = calibrate_bands(
            banded, source=f"bench/engine_dev_bench.py --half tune ({args.variants})"
        )
        base = Calibration.from_file(args.calibrate_bands)
        args.calibrate_bands.write_text(json.dumps(base.with_bands(bands).to_dict(), indent=2) + "\n")
        print(f"bands written to {args.calibrate_bands}: impostor pairs per band {counted}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
