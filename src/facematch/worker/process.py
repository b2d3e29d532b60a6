"""One worker process's life: health endpoint up, loops started, then a drain when told to stop."""

from __future__ import annotations

import logging
import threading

from facematch.flows.context import Services
from facematch.security import admin
from facematch.worker.health import HealthServer
from facematch.worker.runtime import Background

log = logging.getLogger(__name__)


def run_worker(
    svc: Services, *, jobs: int, deliveries: int, host: str, port: int, stopping: threading.Event
) -> None:
    """Serve /healthz, /readyz and /metrics, run the background loops until ``stopping`` is set,
    then drain them (see :meth:`Background.stop`). ``svc.engine`` must be loaded when ``jobs``."""
    health = HealthServer(
        svc,
        host,
        port,
        alive=lambda: not stopping.is_set(),
        analyses=jobs > 0,
        metrics_token=admin.admin_token(svc.settings),
        metrics_open=admin.open_without_token(svc.settings),
    )
    health.start()
    background = Background(svc, jobs=jobs, deliveries=deliveries)
    background.start()
    log.info(
        "worker running",
        extra={"jobs": jobs, "deliveries": deliveries, "health_port": health.port},
    )
    stopping.wait()
    log.info("draining")
    background.stop()
    health.stop()
    log.info("stopped")
