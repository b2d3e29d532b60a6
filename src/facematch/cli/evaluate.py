"""``facematch eval PAIRS_CSV``: accuracy of the engine on labelled pairs, and calibration.

PAIRS_CSV has the columns ``image_a,image_b,same_person`` (yes/no), with paths relative to
``--root`` (default: the CSV's folder). Each image is analysed once, however many pairs use it,
as the primary (largest) face of the image. One selfie meets many references here, so the
condition-matched templates are kept for the run (``AdaptedTemplates``), never in the engine.

``--calibrate`` writes the general curve and, where the pairs hold enough impostors, a curve per
quality band (pairs whose poorer face has fewer than 12.5 / 20 px between the eyes).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from facematch.errors import FacematchError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="measure accuracy on labelled pairs; optionally calibrate",
        description="Evaluate the engine on PAIRS_CSV (image_a,image_b,same_person).",
    )
    parser.add_argument("pairs", type=Path, metavar="PAIRS_CSV")
    parser.add_argument("--root", type=Path, default=None, help="folder the image paths are relative to")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help="write the metrics as JSON")
    parser.add_argument(
        "--plot", type=Path, default=None, metavar="OUT.png", help="draw ROC and score histograms"
    )
    parser.add_argument(
        "--calibrate",
        type=Path,
        default=None,
        metavar="OUT.json",
        help="write a calibration file from the impostor pairs "
        "(load it with FACEMATCH_ENGINE__RECOGNIZER_CALIBRATION)",
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="images analysed in parallel"
    )
    parser.set_defaults(func=run)


def read_pairs(path: Path) -> list[tuple[str, str, bool]]:
    """Rows of (image_a, image_b, genuine); a malformed file is a clear error."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {"image_a", "image_b", "same_person"} - set(reader.fieldnames or ())
            if missing:
                raise FacematchError(
                    f"{path} lacks the column(s) {', '.join(sorted(missing))}", code="BAD_PAIRS_FILE"
                )
            rows = []
            for number, row in enumerate(reader, start=2):
                label = (row["same_person"] or "").strip().lower()
                if label not in ("yes", "no"):
                    raise FacematchError(
                        f"{path}:{number}: same_person must be yes or no", code="BAD_PAIRS_FILE"
                    )
                rows.append((row["image_a"].strip(), row["image_b"].strip(), label == "yes"))
    except OSError as error:
        raise FacematchError(f"cannot read {path}: {error.strerror}", code="BAD_PAIRS_FILE") from error
    if not rows:
        raise FacematchError(f"{path} has no pairs", code="BAD_PAIRS_FILE")
    return rows


def resolve_root(root: Path | None, pairs: Path, names: list[str]) -> Path:
    """The folder the pair paths are relative to: ``--root``, else the CSV's folder, else its
    ``images/`` subfolder when that is where the files are. Missing files are an error."""
    candidates = [root] if root is not None else [pairs.parent, pairs.parent / "images"]
    for folder in candidates:
        missing = [n for n in names if not (folder / n).is_file()]
        if not missing:
            return folder
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    raise FacematchError(f"images not found under {candidates[-1]}: {shown}", code="IMAGES_NOT_FOUND")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from facematch.config import get_settings
    from facematch.engine.calibrate import calibrate_bands, calibrate_from_scores
    from facematch.engine.evaluation import BandTally, PairScore, auc, eer, tar_at_far
    from facematch.engine.templates import AdaptedTemplates
    from facematch.engine.types import FaceAnalysis, ImageRole
    from facematch.security.capacity import tune_allocator
    from facematch.services import load_engine

    tune_allocator()  # decoded images go back to the system when freed, not into the heap
    rows = read_pairs(args.pairs)
    names = sorted({name for a, b, _ in rows for name in (a, b)})
    root = resolve_root(args.root, args.pairs, names)
    engine = load_engine(get_settings())

    def analyse(name: str) -> tuple[str, FaceAnalysis | str]:
        try:
            return name, engine.analyze((root / name).read_bytes(), ImageRole.REFERENCE)
        except FacematchError as error:
            return name, error.code
        except OSError as error:
            return name, f"UNREADABLE ({error.strerror})"  # vanished or unreadable mid-run

    started = time.perf_counter()
    analyses: dict[str, FaceAnalysis | str] = {}
    with ThreadPoolExecutor(max_workers=max(1, args.workers)) as pool:
        for name, outcome in tqdm(pool.map(analyse, names), total=len(names), desc="images", file=sys.stderr):
            analyses[name] = outcome
    elapsed = time.perf_counter() - started

    scores: list[PairScore] = []
    failures: list[dict[str, str]] = []
    tally = BandTally()
    adapted = AdaptedTemplates()
    accepted: list[bool] = []  # the engine's own decision: each pair at its quality band's threshold
    for a, b, same in rows:
        fa, fb = analyses[a], analyses[b]
        if isinstance(fa, str) or isinstance(fb, str):
            scores.append(PairScore(same, None))
            accepted.append(False)
            failures.append({"image_a": a, "image_b": b, "reason": fa if isinstance(fa, str) else str(fb)})
            continue
        result = engine.compare_analyses(fa, fb, adapted)
        scores.append(PairScore(same, result.similarity))
        accepted.append(result.match)
        tally.add(result, same)
    del adapted
    points = {far: tar_at_far(scores, far) for far in (1e-2, 1e-3)}
    tar_default = sum(1 for s, ok in zip(scores, accepted, strict=True) if s.genuine and ok)
    far_default = sum(1 for s, ok in zip(scores, accepted, strict=True) if not s.genuine and ok)
    genuine = sum(1 for s in scores if s.genuine)
    impostor = len(scores) - genuine
    correct = sum(ok == s.genuine for s, ok in zip(scores, accepted, strict=True))
    report: dict[str, Any] = {
        "pairs": len(scores),
        "images": len(names),
        "genuine": genuine,
        "impostor": impostor,
        "failed_pairs": len(failures),
        "failure_rate": len(failures) / len(scores),
        "failed_images": sorted(n for n, o in analyses.items() if isinstance(o, str)),
        "auc": auc(scores),
        "eer": eer(scores),
        "tar_at_far_0.01": points[1e-2].tar,
        "threshold_at_far_0.01": points[1e-2].threshold,
        "tar_at_far_0.001": points[1e-3].tar,
        "threshold_at_far_0.001": points[1e-3].threshold,
        "far_0.001_resolvable": impostor >= 3000,
        "default_threshold": engine.threshold,
        "default_target_far": engine.target_far,
        "accuracy_at_default_threshold": correct / len(scores),
        "tar_at_default_threshold": tar_default / genuine if genuine else None,
        "false_accepts_at_default_threshold": far_default,
        "images_per_s": len(names) / elapsed if elapsed > 0 else None,
        "workers": args.workers,
        "model_version": engine.model_version,
        "bands": tally.counts,
        "failures": failures,
    }
    print(_summary(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if args.plot:
        from facematch.cli.plots import draw_roc_and_histograms

        draw_roc_and_histograms(scores, engine.threshold, args.plot)
    if args.calibrate:
        source = f"facematch eval --calibrate on {args.pairs.name}"
        bands, counted, general = calibrate_bands(tally.impostors, source=source)
        if len(general) < 10:  # too few pairs outside the bands: the general curve takes them all
            general = [p.similarity for p in tally.impostors]
        calibration = calibrate_from_scores(
            general, model_sha256=engine.recognizer_sha256, model_version=engine.model_version, source=source
        ).with_bands(bands)
        args.calibrate.write_text(json.dumps(calibration.to_dict(), indent=2) + "\n", encoding="utf-8")
        print(
            f"calibration written to {args.calibrate} ({len(calibration.operating_points)} operating points; "
            f"bands: {', '.join(f'{b.name} ({counted[b.name]} impostor pairs)' for b in bands) or 'none'}; "
            f"impostor pairs per band: {counted})"
        )
    return 0


def _band_line(name: str, counts: dict[str, int]) -> str:
    tar = counts["true_accepts"] / counts["genuine"] if counts["genuine"] else float("nan")
    return (
        f"  band {name}: {counts['genuine']} genuine (TAR {tar:.2%}), {counts['impostor']} impostor "
        f"({counts['false_accepts']} false accepts) at the band's threshold"
    )


def _summary(r: dict[str, Any]) -> str:
    lines = [
        f"pairs {r['pairs']} (genuine {r['genuine']}, impostor {r['impostor']}), images {r['images']}",
        f"failed pairs {r['failed_pairs']} ({r['failure_rate']:.2%})"
        + (f"; images without a usable face: {', '.join(r['failed_images'])}" if r["failed_images"] else ""),
        f"AUC {r['auc']:.4f}   EER {r['eer']:.2%}",
        f"TAR {r['tar_at_far_0.01']:.2%} at FAR 1e-2 (threshold {r['threshold_at_far_0.01']:.3f})",
        f"TAR {r['tar_at_far_0.001']:.2%} at FAR 1e-3 (threshold {r['threshold_at_far_0.001']:.3f})"
        + (
            ""
            if r["far_0.001_resolvable"]
            else f"  [only {r['impostor']} impostor pairs: FAR 1e-3 is not resolved]"
        ),
        f"at the default threshold {r['default_threshold']:.3f} (each quality band at its own): "
        f"accuracy {r['accuracy_at_default_threshold']:.2%}, "
        f"false accepts {r['false_accepts_at_default_threshold']}",
        f"speed {r['images_per_s']:.1f} images/s with {r['workers']} worker(s)",
        *(_band_line(name, counts) for name, counts in sorted(r["bands"].items())),
    ]
    return "\n".join(lines)
