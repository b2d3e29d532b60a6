"""A ``facematch worker`` with the fake engine, for tests that run workers as processes (and kill them).

Usage: ``python tests/fake_worker.py PORT`` with the FACEMATCH_* environment set; the engine delay
of ``fake_server.py`` applies (``FM_TEST_ENGINE_DELAY``).
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from facematch.config import Settings
from facematch.logs import configure_logging
from facematch.services import build_services
from facematch.worker.process import run_worker
from fake_server import SlowFakeEngine


def main() -> None:
    configure_logging()
    settings = Settings()
    stopping = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stopping.set())
    svc = build_services(settings, engine=SlowFakeEngine(float(os.environ.get("FM_TEST_ENGINE_DELAY", "0"))))
    try:
        run_worker(
            svc,
            jobs=settings.submissions.workers,
            deliveries=settings.callbacks.workers,
            host="127.0.0.1",
            port=int(sys.argv[1]),
            stopping=stopping,
        )
    finally:
        svc.close()


if __name__ == "__main__":
    main()
