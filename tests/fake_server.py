"""A facematch server with the fake engine, for tests that run it as a process (and kill it).

Usage: ``python tests/fake_server.py PORT`` with the FACEMATCH_* environment set. The optional
``FM_TEST_ENGINE_DELAY`` (seconds) slows each comparison, to widen the windows a kill can hit.
"""

from __future__ import annotations

import os
import sys
import time

import uvicorn

from facematch.api.app import create_app
from facematch.api.server import server_config
from facematch.config import Settings
from facematch.engine.fake import FakeEngine
from facematch.engine.types import FaceAnalysis, MatchResult
from facematch.logs import configure_logging


class SlowFakeEngine(FakeEngine):
    def __init__(self, delay: float) -> None:
        super().__init__()
        self._delay = delay

    def compare_analyses(self, selfie: FaceAnalysis, reference: FaceAnalysis) -> MatchResult:
        time.sleep(self._delay)
        return super().compare_analyses(selfie, reference)


def main() -> None:
    configure_logging()
    delay = float(os.environ.get("FM_TEST_ENGINE_DELAY", "0"))
    settings = Settings()
    app = create_app(settings, engine=SlowFakeEngine(delay))
    uvicorn.Server(server_config(app, settings, host="127.0.0.1", port=int(sys.argv[1]))).run()


if __name__ == "__main__":
    main()
