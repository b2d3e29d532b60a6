"""How many landmark-jitter re-alignments a small face's template needs (tune half only).

For each card variant, every reference derivative is analysed once; its aligned crop and all six
jittered re-alignments are embedded, and the template is rebuilt from the first 0, 2 and 6 of them
(the engine's ``jitter_crops``). Selfies and condition matching are the engine's own. TAR at FAR 1e-3
(empirical threshold on the variant's impostor pairs) per choice, and the embeddings each costs.

Usage: python bench/engine_jitter_ablation.py --shared ../shared [--max-identities 120]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import devset
from benchio import save_json
from engine_dev_bench import Facematch, analyse_all, derivative_jobs
from facematch.engine.detect import rotate
from facematch.engine.evaluation import PairScore, tar_at_far
from facematch.engine.facade import EngineOptions, FaceEngine
from facematch.engine.images import decode_image
from facematch.engine.templates import jittered_crops, mean_template
from facematch.engine.types import FaceAnalysis

COUNTS = (0, 2, 6)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--max-identities", type=int, default=120)
    parser.add_argument("--variants", default="grey_card24,grey_card36_q30")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    ds = devset.load(args.shared, "tune", max_identities=args.max_identities)
    engine = FaceEngine.load(EngineOptions(threads=1, jitter_crops=0))
    system = Facematch(engine)
    report: dict[str, Any] = {"half": "tune", "images": len(ds.files), "variants": {}}
    for variant in args.variants.split(","):
        selfies, _ = analyse_all(system, derivative_jobs(ds, devset.side_a(variant)), args.workers)
        refs, _ = analyse_all(system, derivative_jobs(ds, variant), args.workers)
        templates: dict[int, dict[str, Any]] = {n: {} for n in COUNTS}
        for name, face in refs.items():
            if face is None:
                continue
            assert isinstance(face, FaceAnalysis) and face.crop is not None
            data = (ds.root / name).read_bytes()
            rgb = decode_image(
                devset.derive(variant, name, data, lambda d=data: devset.lfw_box(decode_image(d).rgb))
            ).rgb
            turned = rotate(rgb, face.rotation)
            marks = np.array(face.landmarks, dtype=np.float64)
            crops = np.stack([face.crop, *jittered_crops(turned, marks, 6)])
            features = engine._recognizer.features(crops)
            for n in COUNTS:
                templates[n][name] = mean_template(features[: 1 + n])
        row: dict[str, Any] = {}
        for n in COUNTS:
            pairs = []
            for a, b, same in ds.pairs:
                sa, rb = selfies[a], refs[b]
                if sa is None or rb is None:
                    pairs.append(PairScore(same, None))
                    continue
                swapped = dataclasses.replace(rb, template=templates[n][b])
                pairs.append(PairScore(same, engine.matched_similarity(sa, swapped, system.adapted)))
            point = tar_at_far(pairs, 1e-3)
            row[str(n)] = {"tar_at_far_1e-3": point.tar, "embeddings_per_image": 1 + n}
            print(f"  {variant:16} jitter {n}: TAR@FAR1e-3 {point.tar:6.2%}", file=sys.stderr)
        report["variants"][variant] = row
        save_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
