"""Engine benchmark: accuracy on document-style derivatives and speed, beside two baselines.

Derived pairs are made from ../shared/faces: every single-person image is a selfie, and every
other single-person image, degraded one way (ID card at 24/36 px, tight crop, pixel rotation,
EXIF rotation, grey, JPEG q30), is a reference. Genuine pairs share an identity; impostor pairs
do not. For each variant and system the benchmark prints failure-to-acquire (reference images
with no usable face), TAR at FAR 1e-3 (empirical threshold on this variant's impostor pairs,
failed pairs counted as non-matches), and TAR at the system's own default threshold.

Baselines, run on the same pairs in the same process:
* ``opencv``: OpenCV's plain YuNet + SFace recipe (FaceDetectorYN at the image size, the first
  face, FaceRecognizerSF.alignCrop, cosine) with the same bundled model files;
* ``dlib``: face_recognition (dlib HOG detector + ResNet), when installed
  (pip install dlib-bin face_recognition_models && pip install --no-deps face_recognition).

Usage: python bench/engine_bench.py --shared ../shared [--json bench/out/engine.json] [--quick]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

import degrade
from facematch.engine.evaluation import PairScore, rates_at, tar_at_far
from facematch.engine.facade import EngineOptions, FaceEngine
from facematch.engine.images import decode_image
from facematch.engine.models import bundled_detector, bundled_recognizer, prepare_onnx
from facematch.engine.types import ImageRole
from facematch.errors import FacematchError

VARIANTS = (
    "original",
    "id_card_24",
    "id_card_36",
    "tight_crop",
    "rot90",
    "rot180",
    "rot270",
    "exif3",
    "exif6",
    "exif8",
    "grey",
    "jpeg_q30",
)


@dataclass
class Source:
    name: str
    identity: str
    data: bytes
    rgb: np.ndarray
    box: Any


def load_sources(shared: Path, engine: FaceEngine) -> list[Source]:
    faces = shared / "faces"
    with (faces / "identities.csv").open() as handle:
        identities = {r["file"]: r["identity"] for r in csv.DictReader(handle)}
    sources = []
    for name, identity in sorted(identities.items()):
        if identity == "MULTIPLE" or "partial" in name:
            continue
        data = (faces / "images" / name).read_bytes()
        box = engine.analyze(data, ImageRole.REFERENCE).box
        sources.append(Source(name, identity, data, decode_image(data).rgb, box))
    return sources


def derive(source: Source, variant: str) -> bytes:
    rgb, box = source.rgb, source.box
    if variant == "original":
        return source.data
    if variant.startswith("id_card_"):
        return degrade.id_card(
            rgb, box, int(variant.rsplit("_", 1)[1]), seed=zlib.crc32(source.name.encode())
        )
    if variant == "tight_crop":
        return degrade.encode(degrade.tight_crop(rgb, box))
    if variant.startswith("rot"):
        return degrade.encode(degrade.rotated(rgb, int(variant[3:])))
    if variant.startswith("exif"):
        return degrade.exif_rotated(rgb, int(variant[4:]))
    if variant == "grey":
        return degrade.encode(degrade.grey(rgb))
    if variant == "jpeg_q30":
        return degrade.jpeg_crushed(rgb, 30)
    raise ValueError(variant)


class System:
    """A matcher under test: embed(bytes, role) -> template or None; similarity; default threshold."""

    name: str
    threshold: float
    thread_safe = True

    def embed(self, data: bytes, role: ImageRole) -> Any: ...

    def similarity(self, selfie: Any, reference: Any) -> float: ...


class Facematch(System):
    name = "facematch"

    def __init__(self, engine: FaceEngine) -> None:
        self.engine = engine
        self.threshold = engine.threshold

    def embed(self, data: bytes, role: ImageRole) -> Any:
        try:
            return self.engine.analyze(data, role)
        except FacematchError:
            return None

    def similarity(self, selfie: Any, reference: Any) -> float:
        return self.engine.compare_analyses(selfie, reference).similarity


class PlainOpenCV(System):
    """OpenCV's documented YuNet + SFace recipe, nothing added."""

    name = "opencv-yunet-sface"
    threshold = 0.363  # the value OpenCV's sample uses

    def __init__(self) -> None:
        self._detector_path = str(bundled_detector().path)
        spec, _ = bundled_recognizer()
        # the int8 SFace file needs its stray inputs removed before OpenCV will load it at all
        self._tmp = tempfile.NamedTemporaryFile(suffix=".onnx", delete=False)  # noqa: SIM115
        self._tmp.write(prepare_onnx(spec.path))
        self._tmp.close()
        import threading

        self._local = threading.local()

    def _models(self) -> tuple[Any, Any]:
        if not hasattr(self._local, "det"):
            self._local.det = cv2.FaceDetectorYN.create(self._detector_path, "", (320, 320), 0.9, 0.3, 5000)
            self._local.rec = cv2.FaceRecognizerSF.create(self._tmp.name, "")
        return self._local.det, self._local.rec

    def embed(self, data: bytes, role: ImageRole) -> Any:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            return None
        det, rec = self._models()
        det.setInputSize((image.shape[1], image.shape[0]))
        _, faces = det.detect(image)
        if faces is None or len(faces) == 0:
            return None
        aligned = rec.alignCrop(image, faces[0])
        feature = rec.feature(aligned).reshape(-1)
        return feature / np.linalg.norm(feature)

    def similarity(self, selfie: Any, reference: Any) -> float:
        return float(np.dot(selfie, reference))


class Dlib(System):
    """face_recognition (dlib): HOG detector + 128-d ResNet; distance ≤ 0.6 is its default match."""

    name = "face_recognition-dlib"
    threshold = -0.6  # similarity = -distance
    thread_safe = False  # dlib's detector crashes the process when shared between threads

    def __init__(self) -> None:
        import face_recognition

        self.fr = face_recognition

    def embed(self, data: bytes, role: ImageRole) -> Any:
        rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        boxes = self.fr.face_locations(rgb)
        if not boxes:
            return None
        encodings = self.fr.face_encodings(rgb, known_face_locations=boxes[:1])
        return encodings[0] if encodings else None

    def similarity(self, selfie: Any, reference: Any) -> float:
        return -float(np.linalg.norm(selfie - reference))


def evaluate(
    system: System, sources: list[Source], variants: tuple[str, ...], workers: int
) -> dict[str, Any]:
    workers = workers if system.thread_safe else 1

    def run(job: tuple[str, bytes, ImageRole]) -> tuple[str, Any]:
        return job[0], system.embed(job[1], job[2])

    selfie_jobs = [(s.name, s.data, ImageRole.SELFIE) for s in sources]
    with ThreadPoolExecutor(workers) as pool:
        selfies = dict(pool.map(run, selfie_jobs))
    out: dict[str, Any] = {}
    for variant in variants:
        jobs = [(s.name, derive(s, variant), ImageRole.REFERENCE) for s in sources]
        with ThreadPoolExecutor(workers) as pool:
            refs = dict(pool.map(run, jobs))
        pairs: list[PairScore] = []
        for a in sources:
            for b in sources:
                if a.name == b.name:
                    continue
                sa, rb = selfies[a.name], refs[b.name]
                sim = None if sa is None or rb is None else system.similarity(sa, rb)
                pairs.append(PairScore(a.identity == b.identity, sim))
        point = tar_at_far(pairs, 1e-3)
        tar_default, far_default, _ = rates_at(pairs, system.threshold)
        out[variant] = {
            "fta": sum(r is None for r in refs.values()) / len(refs),
            "tar_at_far_1e-3": point.tar,
            "threshold_at_far_1e-3": point.threshold,
            "tar_at_default": tar_default,
            "far_at_default": far_default,
            "genuine": sum(p.genuine for p in pairs),
            "impostor": sum(not p.genuine for p in pairs),
        }
        print(
            f"  {system.name:22} {variant:11} FTA {out[variant]['fta']:6.1%}  TAR@FAR1e-3 {point.tar:6.1%}  "
            f"TAR@default {tar_default:6.1%}  FAR@default {far_default:6.2%}",
            file=sys.stderr,
        )
    return out


def speed(system: System, images: list[bytes], workers: int, repeat: int = 3) -> float:
    """Images per second over ``images`` (repeated), with ``workers`` threads (one if unsafe)."""
    workers = workers if system.thread_safe else 1
    system.embed(images[0], ImageRole.SELFIE)
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda d: system.embed(d, ImageRole.SELFIE), images * repeat))
    return len(images) * repeat / (time.perf_counter() - started)


def le_1mp(sources: list[Source]) -> list[bytes]:
    """Every source scaled (if needed) to at most 1 MP, as JPEG q90."""
    out = []
    for s in sources:
        h, w = s.rgb.shape[:2]
        scale = min(1.0, (1_000_000 / (h * w)) ** 0.5)
        rgb = (
            s.rgb
            if scale == 1
            else cv2.resize(s.rgb, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
        )
        out.append(degrade.encode(np.ascontiguousarray(rgb), quality=90))
    return out


def twelve_mp_ms(engine: FaceEngine, source: Source, repeat: int = 10) -> dict[str, float]:
    h, w = source.rgb.shape[:2]
    scale = 3000 / h
    wide = cv2.resize(source.rgb, (round(w * scale), 3000), interpolation=cv2.INTER_CUBIC)
    pad = max(0, 4000 - wide.shape[1])
    # replicate (not reflect) the edges: a mirrored copy of the face would make it a group photo
    big = cv2.copyMakeBorder(wide, 0, 0, pad // 2, pad - pad // 2, cv2.BORDER_REPLICATE)[:, :4000]
    data = degrade.encode(big, quality=90)
    engine.analyze(data, ImageRole.SELFIE)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        engine.analyze(data, ImageRole.SELFIE)
        times.append((time.perf_counter() - t) * 1000)
    return {"bytes": len(data), "p50_ms": statistics.median(times), "max_ms": max(times)}


def compare_latency(engine: FaceEngine, a: bytes, b: bytes, n: int = 40) -> dict[str, float]:
    engine.compare(a, b)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        engine.compare(a, b)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"p50_ms": times[len(times) // 2], "p95_ms": times[int(len(times) * 0.95) - 1]}


def save(report: dict[str, Any], path: Path, *, merge: bool) -> None:
    """Write the report now (a later crash keeps what was measured), merged into ``path`` if asked."""
    data = dict(report)
    if merge and path.is_file():
        previous = json.loads(path.read_text())
        for section in ("accuracy", "speed", "ablations"):
            data[section] = {**previous.get(section, {}), **report.get(section, {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--json", type=Path, default=Path("bench/out/engine.json"))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--quick", action="store_true", help="fewer variants, no baselines")
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--speed-only", action="store_true", help="skip the accuracy runs")
    parser.add_argument("--systems", default="facematch,opencv,dlib", help="comma-separated subset to run")
    parser.add_argument(
        "--merge", action="store_true", help="update the systems run in an existing --json file"
    )
    args = parser.parse_args()
    cv2.setNumThreads(1)
    engine = FaceEngine.load(EngineOptions(threads=1))
    sources = load_sources(args.shared, engine)
    variants = ("original", "id_card_24", "rot90") if args.quick else VARIANTS
    print(
        f"{len(sources)} single-person images, {len({s.identity for s in sources})} identities",
        file=sys.stderr,
    )
    wanted = set(args.systems.split(","))
    systems: list[System] = [Facematch(engine)] if "facematch" in wanted else []
    if not (args.quick or args.skip_baselines):
        if "opencv" in wanted:
            systems.append(PlainOpenCV())
        if "dlib" in wanted:
            try:
                systems.append(Dlib())
            except ImportError:
                print("face_recognition not installed: dlib baseline skipped", file=sys.stderr)
    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "sources": len(sources),
        "identities": len({s.identity for s in sources}),
        "accuracy": {},
        "speed": {},
    }
    small = le_1mp(sources)
    report["ablations"] = {}
    for system in systems:
        if not args.speed_only:
            report["accuracy"][system.name] = evaluate(system, sources, variants, args.workers)
        threads = args.workers if system.thread_safe else 1
        report["speed"][system.name] = {
            "images_per_s_le_1mp": speed(system, small, args.workers),
            "threads": threads,
        }
        save(report, args.json, merge=args.merge)
        print(
            f"  {system.name:22} {report['speed'][system.name]['images_per_s_le_1mp']:.1f} images/s "
            f"(≤1 MP, {threads} thread(s))",
            file=sys.stderr,
        )
    if "facematch" in wanted:
        fm = report["speed"]["facematch"]
        fm["twelve_mp_jpeg"] = twelve_mp_ms(engine, sources[0])
        by_name = {s.name: s for s in sources}
        pair = (small[sources.index(by_name["obama2.jpg"])], small[sources.index(by_name["obama.jpg"])])
        fm["compare_1mp"] = compare_latency(engine, *pair)
        save(report, args.json, merge=args.merge)
    # the measurements behind three design choices: each switched the other way
    hard = ("id_card_24", "id_card_36", "grey")
    for label, options in (
        ()
        if args.speed_only or "facematch" not in wanted
        else (
            ("flip_average_on", EngineOptions(threads=1, flip_average=True)),
            ("resolution_matching_off", EngineOptions(threads=1, resolution_matching=False)),
            ("small_face_jitter_off", EngineOptions(threads=1, small_face_jitter=False)),
        )
    ):
        print(f"ablation: {label}", file=sys.stderr)
        report["ablations"][label] = evaluate(
            Facematch(FaceEngine.load(options)), sources, hard, args.workers
        )
        save(report, args.json, merge=args.merge)
    print(json.dumps(report["speed"], indent=2))
    print(f"full report: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
