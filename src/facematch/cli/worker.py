"""``facematch worker [--jobs N] [--deliveries M] [--port P] [--no-migrate]``: the background
process of a cluster.

Runs job processing (the engine is loaded once, at start), callback delivery and the
abandoned-session sweeper, with ``/healthz``, ``/readyz`` and ``/metrics`` on its own port. On
SIGTERM (or Ctrl-C) it drains: it stops claiming, lets the jobs in hand finish for up to
``submissions.drain_timeout_s`` and hands the leases of the rest back, so nothing is left running
without a live lease.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import Any

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run job processing, callback delivery and the sweeper (a cluster's background process)",
    )
    parser.add_argument(
        "--jobs", type=int, default=None, help="analyses at once (default: submissions.workers)"
    )
    parser.add_argument(
        "--deliveries", type=int, default=None, help="callback delivery threads (default: callbacks.workers)"
    )
    parser.add_argument(
        "--host", default=None, help="address of /healthz and /metrics (default: worker.host)"
    )
    parser.add_argument(
        "--port", type=int, default=None, help="port of /healthz and /metrics (default: worker.port)"
    )
    parser.add_argument("--no-migrate", action="store_true", help="do not migrate the database at start")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from facematch.config import get_settings
    from facematch.logs import configure_logging
    from facematch.security.capacity import tune_allocator
    from facematch.services import build_services, check_blob_store, load_engine, secret_box
    from facematch.storage.db import migrate
    from facematch.worker.process import run_worker

    settings = get_settings()
    configure_logging()
    if settings.limits.release_memory:
        tune_allocator()
    if not args.no_migrate:
        migrate(settings.database_url, secret_box=secret_box(settings))
    jobs = settings.submissions.workers if args.jobs is None else args.jobs
    deliveries = settings.callbacks.workers if args.deliveries is None else args.deliveries
    stopping = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stopping.set())
    svc = build_services(settings)
    try:
        check_blob_store(svc.blobs)
        if jobs:
            svc.engine = load_engine(settings)
            log.info("face engine loaded", extra={"model_version": svc.engine.model_version})
        run_worker(
            svc,
            jobs=jobs,
            deliveries=deliveries,
            host=args.host or settings.worker.host,
            port=args.port or settings.worker.port,
            stopping=stopping,
        )
    finally:
        svc.close()
    return 0
