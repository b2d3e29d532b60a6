"""The README's configuration table lists every setting, with its default and description.

``FACEMATCH_UPDATE_README=1 .venv/bin/pytest tests/test_readme.py`` rewrites the table from the
settings.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from facematch.api import examples
from facematch.config import Settings
from test_readme_walkthrough import comparable

README = Path(__file__).resolve().parents[1] / "README.md"
_ROW = re.compile(r"^\| `FACEMATCH_[A-Z0-9_]+` \|.*\|\n", re.MULTILINE)


def settings_rows(model: type[BaseModel] = Settings, prefix: str = "FACEMATCH_") -> list[str]:
    rows: list[str] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        variable = f"{prefix}{name.upper()}"
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += settings_rows(annotation, variable + "__")
            continue
        default = field.get_default(call_default_factory=True)
        shown = "—" if default is None or default in ({}, []) else f"`{default}`"
        if isinstance(field.json_schema_extra, dict) and "shown_default" in field.json_schema_extra:
            shown = str(field.json_schema_extra["shown_default"])
        rows.append(f"| `{variable}` | {shown} | {field.description} |\n")
    return rows


def test_every_setting_is_in_the_configuration_table() -> None:
    text = README.read_text()
    rows = settings_rows()
    if os.environ.get("FACEMATCH_UPDATE_README"):
        first = _ROW.search(text)
        assert first is not None
        text = _ROW.sub("", text)
        text = text[: first.start()] + "".join(rows) + text[first.start() :]
        README.write_text(text)
    assert _ROW.findall(text) == rows, "run FACEMATCH_UPDATE_README=1 .venv/bin/pytest tests/test_readme.py"


def _walkthrough_answers() -> list[str]:
    """Every JSON answer the README's partner API walk-through prints, made comparable."""
    from test_readme_walkthrough import blocks_between

    text = README.read_text()
    decoder = json.JSONDecoder()
    answers = []
    for block in blocks_between(text, "## Partner API walk-through", "### Decisions where"):
        if block.lang != "json":
            continue
        rest = block.text.strip()
        while rest:
            value, end = decoder.raw_decode(rest)
            answers.append(comparable(json.dumps(value, sort_keys=True)))
            rest = rest[end:].strip()
    return answers


@pytest.mark.parametrize(
    "name",
    ["PARTNER_TOKEN", "USER_TOKEN", "PRESIGNED", "CONFIRMED", "STATUS", "DETAILS", "FACE_MATCH", "INITIATE"],
)
def test_the_api_documents_examples_are_the_readmes_answers(name: str) -> None:
    """/docs shows the walk-through's answers (which the walk-through test keeps true)."""
    example = getattr(examples, name)
    assert comparable(json.dumps(example, sort_keys=True)) in _walkthrough_answers()
