"""The one settings object. Built by :func:`get_settings` and passed in; never read at import.

Every field can be set from the environment with the ``FACEMATCH_`` prefix; nested groups use a
double underscore, e.g. ``FACEMATCH_ENGINE__TARGET_FAR=0.0001``. The groups live in
:mod:`~facematch.config.core`, :mod:`~facematch.config.serving` and :mod:`~facematch.config.surfaces`;
the README's configuration table lists every field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from facematch.config.core import BlobSettings, DatabaseSettings, EngineSettings, TokenSettings
from facematch.config.serving import (
    CallbackSettings,
    LimitsSettings,
    ReferenceSettings,
    ServerSettings,
    SubmissionSettings,
    WorkerSettings,
)
from facematch.config.surfaces import AdminSettings, ConsoleSettings, LivenessSettings, WebSettings


class Settings(BaseSettings):
    """All of facematch's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="FACEMATCH_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    environment: Literal["development", "test", "production"] = Field(
        default="development",
        description="development enables generated keys, the demo partner and loopback reference URLs.",
    )
    data_dir: Path = Field(default=Path("var"), description="Where the SQLite file, blobs and keys live.")
    engine: EngineSettings = Field(default_factory=EngineSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    blobs: BlobSettings = Field(default_factory=BlobSettings)
    tokens: TokenSettings = Field(default_factory=TokenSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    submissions: SubmissionSettings = Field(default_factory=SubmissionSettings)
    callbacks: CallbackSettings = Field(default_factory=CallbackSettings)
    reference: ReferenceSettings = Field(default_factory=ReferenceSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    liveness: LivenessSettings = Field(default_factory=LivenessSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)

    @model_validator(mode="before")
    @classmethod
    def _development_allowances(cls, data: Any) -> Any:
        """The one rule for development's shortcuts: loopback and plain-http partner URLs are
        allowed in development unless set otherwise (``serve --dev``, ``make run`` and every CLI
        command of a development setup see the same URLs as acceptable)."""
        if not isinstance(data, dict):
            return data
        development = data.get("environment", "development") == "development"
        reference = data.get("reference")
        if reference is None or isinstance(reference, dict):
            shortcuts = {"allow_loopback": development, "allow_http": development}
            data = {**data, "reference": {**shortcuts, **(reference or {})}}
        return data

    @model_validator(mode="after")
    def _no_dev_shortcuts_in_production(self) -> Settings:
        if self.environment == "production" and (self.reference.allow_loopback or self.reference.allow_http):
            raise ValueError("reference.allow_loopback / allow_http are refused in production")
        return self

    @property
    def development(self) -> bool:
        return self.environment == "development"

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_dir / 'facematch.db'}"


def get_settings() -> Settings:
    """Build the settings from the environment (and ``.env`` if present)."""
    return Settings()
