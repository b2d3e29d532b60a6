"""The one settings object. Built by :func:`get_settings` and passed in; never read at import.

Every field can be set from the environment with the ``FACEMATCH_`` prefix; nested groups use a
double underscore, e.g. ``FACEMATCH_ENGINE__TARGET_FAR=0.0001``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EngineSettings(BaseModel):
    """How faces are found, checked and compared."""

    recognizer_model: Path | None = Field(
        default=None,
        description="Path to an alternative ONNX recognizer (112x112 RGB, 5-point aligned). "
        "Requires recognizer_calibration. Default: the bundled SFace model.",
    )
    recognizer_calibration: Path | None = Field(
        default=None,
        description="JSON calibration file for recognizer_model (see docs/models.md).",
    )
    target_far: float = Field(
        default=1e-3,
        gt=0,
        lt=1,
        description="False-accept rate the default decision threshold is chosen for "
        "(one of the calibrated operating points: 0.01, 0.001, 0.0001).",
    )
    threshold: float | None = Field(
        default=None,
        description="Explicit cosine-similarity threshold; overrides target_far when set.",
    )
    max_image_bytes: int = Field(default=15 * 1024 * 1024, description="Largest accepted encoded image.")
    max_image_pixels: int = Field(default=50_000_000, description="Largest accepted decoded image (pixels).")
    threads: int = Field(default=1, ge=1, description="ONNX/OpenCV threads per inference call.")


class Settings(BaseSettings):
    """All of facematch's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="FACEMATCH_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    environment: Literal["development", "test", "production"] = Field(
        default="development",
        description="development enables generated keys, the demo partner and loopback reference URLs.",
    )
    data_dir: Path = Field(default=Path("var"), description="Where the SQLite file, blobs and keys live.")
    engine: EngineSettings = Field(default_factory=EngineSettings)


def get_settings() -> Settings:
    """Build the settings from the environment (and ``.env`` if present)."""
    return Settings()
