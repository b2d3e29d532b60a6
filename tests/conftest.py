"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FACES = SHARED / "faces"


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    """``../shared/faces`` beside the project (CI lays it there too)."""
    if not (FACES / "pairs.csv").is_file():
        pytest.fail(f"test faces not found at {FACES}")
    return FACES


pytest_plugins = ("servicekit", "s3kit", "webkit")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """The random order's seed, even under ``-q`` (which hides pytest-randomly's header line)."""
    seed = getattr(config.option, "randomly_seed", None)
    if isinstance(seed, int):
        terminalreporter.write_line(f"tests ran in a random order: replay it with --randomly-seed={seed}")


#: tests that need one of these fixtures read or write a database; the others behave the same on
#: SQLite and PostgreSQL, so the PostgreSQL pass leaves them to the SQLite pass
DATABASE_FIXTURES = frozenset({"_database_template"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the PostgreSQL pass, only the tests that touch a database (or ask for PostgreSQL
    themselves with the ``postgresql`` marker) run."""
    if not os.environ.get("FACEMATCH_TEST_DATABASE_URL", "").startswith("postgresql"):
        return
    keep: list[pytest.Item] = []
    left: list[pytest.Item] = []
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & DATABASE_FIXTURES or item.get_closest_marker("postgresql"):
            keep.append(item)
        else:
            left.append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = keep
