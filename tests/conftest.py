"""Fixtures shared by every test package."""

from __future__ import annotations

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
