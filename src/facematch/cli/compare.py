"""``facematch compare SELFIE REFERENCE [--json]``: one verdict from the real engine."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from facematch.errors import FacematchError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="compare a selfie with a reference (ID-document) image",
        description="Decide whether SELFIE and REFERENCE show the same person.",
    )
    parser.add_argument("selfie", type=Path, help="the selfie image (JPEG, PNG, WebP or HEIC)")
    parser.add_argument("reference", type=Path, help="the reference image, e.g. a photo of an ID card")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--target-far", type=float, default=None, help="decide at this false-accept rate")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from facematch.config import get_settings
    from facematch.engine.reports import match_to_dict
    from facematch.services import load_engine

    images = []
    for path in (args.selfie, args.reference):
        try:
            images.append(path.read_bytes())
        except OSError as error:
            print(f"facematch: cannot read {path}: {error.strerror}", file=sys.stderr)
            return 2
    engine = load_engine(get_settings(), target_far=args.target_far)
    try:
        result = engine.compare(images[0], images[1])
    except FacematchError as error:
        role = getattr(error, "role", None)
        where = f"{role}: " if role else ""
        if args.json:
            print(json.dumps({"error": {"code": error.code, "message": str(error), "image": role}}, indent=2))
        else:
            print(f"facematch: {where}{error.code}: {error}", file=sys.stderr)
        return 3
    report = match_to_dict(result)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    verdict = "MATCH" if result.match else "NO MATCH"
    print(
        f"{verdict}  score {result.score:.3f}  "
        f"(similarity {result.similarity:.3f}, threshold {result.threshold:.3f})"
    )
    print(f"  false-accept rate at this threshold: {result.far_at_threshold:.0e}")
    for label, face in (("selfie", result.selfie), ("reference", result.reference)):
        box = face.box
        turned = f", turned {face.rotation}°" if face.rotation else ""
        print(
            f"  {label:9} face {box.width:.0f}x{box.height:.0f} px at ({box.x:.0f},{box.y:.0f}){turned}; "
            f"{face.faces_found} face(s) found; eyes {face.quality.interocular_px:.0f} px apart"
        )
    print(f"  model {result.model_version}")
    return 0
