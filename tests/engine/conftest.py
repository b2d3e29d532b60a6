"""The real engine, loaded once for the model tests."""

from __future__ import annotations

import pytest

from facematch.engine.facade import FaceEngine


@pytest.fixture(scope="session")
def engine() -> FaceEngine:
    return FaceEngine.load()
