"""A facematch server with the fake engine, for tests that run it as a process (and kill it).

Usage: ``python tests/fake_server.py PORT`` with the FACEMATCH_* environment set. The optional
``FM_TEST_ENGINE_DELAY`` (seconds) slows each comparison, to widen the windows a kill can hit;
``FM_TEST_GATE_FILE`` and ``FM_TEST_GATE_PERSON``: while that file exists, analyses of that fake
person wait (a slow analysis on cue, for one partner's images only).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import uvicorn

from facematch.api.app import create_app
from facematch.api.server import server_config
from facematch.config import Settings
from facematch.engine.fake import FakeEngine, fake_face_image
from facematch.engine.images import DecodedImage
from facematch.engine.types import FaceAnalysis, ImageRole, MatchResult
from facematch.logs import configure_logging


class SlowFakeEngine(FakeEngine):
    def __init__(self, delay: float, gate: Path | None = None, gated_person: int = 0) -> None:
        super().__init__()
        self._delay = delay
        self._gate = gate
        self._gated = FakeEngine().analyze(fake_face_image(gated_person), ImageRole.SELFIE).template

    def analyze_decoded(self, decoded: DecodedImage, role: ImageRole) -> FaceAnalysis:
        analysis = super().analyze_decoded(decoded, role)
        if self._gate is not None and np.array_equal(analysis.template, self._gated):
            deadline = time.monotonic() + 120  # a test that forgot to open the gate ends anyway
            while self._gate.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
        return analysis

    def compare_analyses(self, selfie: FaceAnalysis, reference: FaceAnalysis) -> MatchResult:
        time.sleep(self._delay)
        return super().compare_analyses(selfie, reference)


def main() -> None:
    configure_logging()
    delay = float(os.environ.get("FM_TEST_ENGINE_DELAY", "0"))
    gate = os.environ.get("FM_TEST_GATE_FILE")
    engine = SlowFakeEngine(
        delay, Path(gate) if gate else None, int(os.environ.get("FM_TEST_GATE_PERSON", "0"))
    )
    settings = Settings()
    app = create_app(settings, engine=engine)
    uvicorn.Server(server_config(app, settings, host="127.0.0.1", port=int(sys.argv[1]))).run()


if __name__ == "__main__":
    main()
