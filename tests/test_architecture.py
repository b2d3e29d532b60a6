"""The layout's rules that import-linter cannot see: queries live in storage/, states are not spelt
as bare strings outside rules/states.py, and modules stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "facematch"
MODULES = sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)
#: the one exception tree is a catalogue by design (one class per error, drawn in its docstring)
LONG_BY_DESIGN = {"errors.py"}
#: what a module outside storage/ may take from SQLAlchemy: the unit of work's type and its errors
OUTSIDE_STORAGE = {"sqlalchemy.orm": {"Session"}, "sqlalchemy.exc": {"IntegrityError"}}
#: wire values of states; outside rules/states.py they are spelt through the StrEnums
STATES = {
    "INITIATED", "IN_PROGRESS", "IN_REVIEW", "COMPLETED", "ERROR", "VALID", "INVALID",
    "FACE_MATCH_FAILED", "INVALID_DOCUMENT", "DOCUMENT_NOT_FOUND", "REFERENCE_IMAGE_VALIDATION_FAILED",
    "VERIFICATION_FAILED", "queued", "running", "done", "pending", "delivered", "dead", "gone",
}  # fmt: skip
#: modules that speak the contract's words in their own right (examples, schemas, the demo partner's
#: pages, the web app's copy of them) or check them (the engine knows nothing of rules/)
STATE_WORDS_ALLOWED = {"rules/states.py", "api/examples.py", "api/schemas.py", "api/openapi.py"}


def _relative(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


@pytest.mark.parametrize("path", MODULES, ids=_relative)
def test_modules_stay_small(path: Path) -> None:
    if path.name in LONG_BY_DESIGN and path.parent == SRC:
        return
    assert len(path.read_text().splitlines()) <= 400


@pytest.mark.parametrize("path", [p for p in MODULES if "storage" not in p.parts], ids=_relative)
def test_queries_live_in_storage(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            assert not any(alias.name.split(".")[0] == "sqlalchemy" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            allowed = OUTSIDE_STORAGE.get(node.module or "", set())
            assert {alias.name for alias in node.names} <= allowed, f"{node.module} in {_relative(path)}"


@pytest.mark.parametrize(
    "path",
    [
        p
        for p in MODULES
        if _relative(p) not in STATE_WORDS_ALLOWED
        and not _relative(p).startswith(("engine/", "demo_partner/"))
    ],
    ids=_relative,
)
def test_states_are_spelt_through_their_enums(path: Path) -> None:
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    bare = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in STATES and id(node) not in docstrings
    ]
    assert bare == []
