"""Where the CPU goes per image: decode, each detector pass, alignment, embeddings, condition matching.

Wraps the engine's leaf stages (``decode_image``, ``Detector.detect``, ``align_face``, the
recognizer's forward pass) with thread-CPU timers and analyses images of the *tune* half of the
development set (a profile reports no accuracy) in several variants, one thread. Condition
matching is timed separately: comparing the variant with a colour selfie of the same image.
Works on any facematch checkout on ``sys.path`` (used to profile the previous engine too).

Usage: python bench/engine_profile.py --shared ../shared [--images 60] [--json bench/out/profile.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import devset
from benchio import save_json
from facematch.engine import facade, models
from facematch.engine.images import decode_image
from facematch.engine.types import ImageRole
from facematch.errors import FacematchError

VARIANTS = ("colour", "grey", "grey_rot90", "grey_rot180", "grey_tight", "grey_card24", "colour_card30")


class Timers:
    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.active = False

    def wrap(self, owner: Any, name: str, label: Callable[..., str]) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                if self.active:
                    key = label(*args, **kwargs)
                    self.cpu[key] += time.thread_time() - started
                    self.calls[key] += 1

        setattr(owner, name, timed)


def detector_label(_self: Any, bgr: np.ndarray) -> str:
    pixels = bgr.shape[0] * bgr.shape[1]
    size = "≤ 64k px" if pixels <= 65_536 else "≤ 160k px" if pixels <= 160_000 else "> 160k px"
    return f"detect ({size})"


def forward_label(_self: Any, blob: np.ndarray) -> str:
    return "embed (forward)"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    timers = Timers()
    timers.wrap(facade, "decode_image", lambda *a, **k: "decode")
    timers.wrap(facade, "align_face", lambda *a, **k: "align")
    timers.wrap(models.Detector, "detect", detector_label)
    timers.wrap(models.Recognizer, "_forward", forward_label)
    engine = facade.FaceEngine.load(facade.EngineOptions(threads=1))
    ds = devset.load(args.shared, "tune")
    files = ds.files[:: max(1, len(ds.files) // args.images)][: args.images]
    report: dict[str, Any] = {"images": len(files), "variants": {}}
    for variant in args.variants.split(","):
        timers.cpu.clear()
        timers.calls.clear()
        total = 0.0
        compare_cpu = 0.0
        failures = 0
        for name in files:
            data = (ds.root / name).read_bytes()
            derived = devset.derive(variant, name, data, lambda d=data: devset.lfw_box(decode_image(d).rgb))
            try:
                selfie = engine.analyze(data, ImageRole.REFERENCE) if variant != "colour" else None
            except FacematchError:
                selfie = None
            timers.active = True
            started = time.thread_time()
            try:
                reference = engine.analyze(derived, ImageRole.REFERENCE)
            except FacematchError:
                failures += 1
                reference = None
            total += time.thread_time() - started
            timers.active = False
            if selfie is not None and reference is not None:
                started = time.thread_time()
                engine.compare_analyses(selfie, reference)
                compare_cpu += time.thread_time() - started
        n = len(files)
        stages = {k: round(1000 * v / n, 2) for k, v in sorted(timers.cpu.items())}
        calls = {k: round(v / n, 2) for k, v in sorted(timers.calls.items())}
        entry = {
            "cpu_ms_per_image": round(1000 * total / n, 2),
            "stages_ms_per_image": stages,
            "calls_per_image": calls,
            "compare_ms_per_pair": round(1000 * compare_cpu / n, 2),
            "failures": failures,
        }
        report["variants"][variant] = entry
        print(
            f"{variant}: {entry['cpu_ms_per_image']} ms/image, compare {entry['compare_ms_per_pair']} ms/pair"
        )
        save_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
