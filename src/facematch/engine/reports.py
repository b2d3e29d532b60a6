"""Plain-data views of engine results, for JSON output (CLI, logs, API details)."""

from __future__ import annotations

from typing import Any

from facematch.engine.types import FaceAnalysis, MatchResult


def analysis_to_dict(face: FaceAnalysis) -> dict[str, Any]:
    q = face.quality
    return {
        "box": {
            "x": round(face.box.x, 1),
            "y": round(face.box.y, 1),
            "width": round(face.box.width, 1),
            "height": round(face.box.height, 1),
        },
        "rotation": face.rotation,
        "faces_found": face.faces_found,
        "greyscale": face.greyscale,
        "quality": {
            "interocular_px": q.interocular_px,
            "sharpness": q.sharpness,
            "brightness": q.brightness,
            "contrast": q.contrast,
            "yaw": q.yaw,
            "roll": q.roll,
            "detector_score": q.detector_score,
            "reasons": list(q.reasons),
        },
    }


def match_to_dict(result: MatchResult) -> dict[str, Any]:
    return {
        "match": result.match,
        "score": round(result.score, 6),
        "similarity": round(result.similarity, 6),
        "threshold": round(result.threshold, 6),
        "far": result.far_at_threshold,
        "band": result.band,
        "target_far": result.target_far,
        "model_version": result.model_version,
        "selfie": analysis_to_dict(result.selfie),
        "reference": analysis_to_dict(result.reference),
    }
