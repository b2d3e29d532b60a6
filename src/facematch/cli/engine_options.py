"""Engine options from the one settings object (the engine itself never reads settings)."""

from __future__ import annotations

from facematch.config import get_settings
from facematch.engine.facade import EngineOptions


def engine_options(*, target_far: float | None = None) -> EngineOptions:
    """The engine options the environment asks for, optionally at another target FAR."""
    engine = get_settings().engine
    return EngineOptions(
        recognizer_model=engine.recognizer_model,
        recognizer_calibration=engine.recognizer_calibration,
        target_far=target_far if target_far is not None else engine.target_far,
        threshold=None if target_far is not None else engine.threshold,
        max_image_bytes=engine.max_image_bytes,
        max_image_pixels=engine.max_image_pixels,
        threads=engine.threads,
    )
