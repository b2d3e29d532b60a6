"""Readiness: one rule for every process (``/readyz`` of the API and of a worker).

A process is ready when its database answers and, if it analyses images at all, its engine is
loaded. A worker started with ``--jobs 0`` (callbacks and sweeps only) never loads one and is
ready without it. ``blobs`` tells whether the image store answers without deciding readiness:
every process shares that store, so taking them all out of rotation would turn its outage
(uploads and compares answer 503 with Retry-After, jobs wait and retry) into an outage of
everything (tokens, status, details, callbacks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from facematch.errors import BlobStoreUnavailableError
from facematch.flows.context import Services


@dataclass(frozen=True, slots=True)
class Readiness:
    database: bool
    engine: bool | None
    """None: this process analyses no images, so it needs no engine."""
    blobs: bool
    stopping: bool = False

    @property
    def ready(self) -> bool:
        return self.database and self.engine is not False and not self.stopping

    def view(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "not ready",
            "database": self.database,
            "engine": self.engine,
            "blobs": self.blobs,
        }


def _blobs_reachable(svc: Services) -> bool:
    try:
        svc.blobs.check()
    except BlobStoreUnavailableError:
        return False
    return True


def readiness(svc: Services, *, analyses: bool, stopping: bool = False) -> Readiness:
    """How this process stands (it touches the database and the image store: call it off the
    event loop). ``analyses``: whether the process analyses images (and so needs its engine)."""
    return Readiness(
        database=svc.db.ping(),
        engine=(svc.engine is not None) if analyses else None,
        blobs=_blobs_reachable(svc),
        stopping=stopping,
    )
