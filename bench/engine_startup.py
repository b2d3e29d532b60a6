"""Start-up CPU and peak memory: facematch's engine beside OpenCV's plain recipe, and ``facematch eval``.

* start-up: CPU seconds (user + system, interpreter start included) and peak RSS of a fresh process
  that loads the models, median of ``--repeat`` runs, for facematch (``FaceEngine.load``) and for the
  plain recipe (``FaceDetectorYN`` + ``FaceRecognizerSF`` on the same files), alternated;
* ``facematch eval``: peak RSS and CPU of the real command on the report half of the development
  set's labelled pairs (the CSV is written to a temporary folder; images stay in ../shared).

Usage: python bench/engine_startup.py --shared ../shared [--repeat 5] [--json bench/out/startup.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import devset
from benchio import save_json

FACEMATCH = "from facematch.engine.facade import FaceEngine; FaceEngine.load()"
#: the plain recipe as its users run it: the recognizer file made loadable once, beforehand
PLAIN = (
    "import cv2\n"
    "det = cv2.FaceDetectorYN.create({detector!r}, '', (320, 320), 0.9, 0.3, 5000)\n"
    "rec = cv2.FaceRecognizerSF.create({recognizer!r}, '')\n"
)
MEASURE = (
    "\nimport resource; u = resource.getrusage(resource.RUSAGE_SELF)\n"
    "print(u.ru_utime + u.ru_stime, u.ru_maxrss / 1024)\n"
)


def once(code: str) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", code + MEASURE], capture_output=True, text=True, check=True)
    cpu, rss = out.stdout.split()[-2:]
    return float(cpu), float(rss)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from facematch.engine.models import bundled_detector, bundled_recognizer, prepare_onnx

    runs: dict[str, list[tuple[float, float]]] = {"facematch": [], "opencv-yunet-sface": []}
    with tempfile.NamedTemporaryFile(suffix=".onnx") as prepared:
        prepared.write(prepare_onnx(bundled_recognizer()[0].path))
        prepared.flush()
        plain = PLAIN.format(detector=str(bundled_detector().path), recognizer=prepared.name)
        for _ in range(args.repeat):
            runs["facematch"].append(once(FACEMATCH))
            runs["opencv-yunet-sface"].append(once(plain))
    report: dict[str, Any] = {
        "startup": {
            name: {
                "cpu_s_median": round(statistics.median(c for c, _ in values), 3),
                "peak_rss_mib_median": round(statistics.median(r for _, r in values), 1),
                "runs": len(values),
            }
            for name, values in runs.items()
        }
    }
    print(json.dumps(report["startup"], indent=2), file=sys.stderr)
    ds = devset.load(args.shared, "report")
    with tempfile.TemporaryDirectory() as tmp:
        pairs = Path(tmp) / "pairs.csv"
        with pairs.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["image_a", "image_b", "same_person"])
            writer.writerows((a, b, "yes" if same else "no") for a, b, same in ds.pairs)
        binary = Path(sys.executable).with_name("facematch")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        subprocess.run(
            [str(binary), "eval", str(pairs), "--root", str(ds.root), "--workers", str(args.workers),
             "--json", str(Path(tmp) / "metrics.json")],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        metrics = json.loads((Path(tmp) / "metrics.json").read_text())
    report["eval"] = {
        "pairs": len(ds.pairs),
        "images": metrics["images"],
        "workers": args.workers,
        "peak_rss_mib": round(after.ru_maxrss / 1024, 1),
        "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
        "wall_s": round(time.monotonic() - started, 1),
        "tar_at_far_0.001": metrics["tar_at_far_0.001"],
    }
    print(json.dumps(report["eval"], indent=2), file=sys.stderr)
    save_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
