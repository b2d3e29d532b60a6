"""The README's configuration table lists every setting, with its default."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from facematch.config import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def settings_variables(model: type[BaseModel] = Settings, prefix: str = "FACEMATCH_") -> dict[str, object]:
    variables: dict[str, object] = {}
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            variables.update(settings_variables(annotation, f"{prefix}{name.upper()}__"))
        else:
            variables[f"{prefix}{name.upper()}"] = field.get_default(call_default_factory=True)
    return variables


def test_every_setting_is_in_the_configuration_table() -> None:
    rows = dict(re.findall(r"^\| `(FACEMATCH_[A-Z0-9_]+)` \| ([^|]+) \|", README.read_text(), re.MULTILINE))
    variables = settings_variables()
    assert set(rows) == set(variables)
    for name, default in variables.items():
        if default is None or default in ({}, []):
            assert rows[name].strip() == "—", name
        else:
            assert rows[name].strip() == f"`{default}`", name
