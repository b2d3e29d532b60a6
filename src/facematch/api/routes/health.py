"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from facematch.api.deps import Svc
from facematch.api.schemas import Health, Readiness
from facematch.errors import BlobStoreUnavailableError
from facematch.flows.context import Services

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


def _blobs_reachable(svc: Services) -> bool:
    try:
        svc.blobs.check()
    except BlobStoreUnavailableError:
        return False
    return True


@router.get("/readyz", responses={200: {"model": Readiness}, 503: {"model": Readiness}})
async def readyz(svc: Svc) -> JSONResponse:
    """The engine is loaded and the database answers (200; else 503). ``blobs`` tells whether the image
    store answers too, without deciding readiness: every process shares that store, so taking them
    all out of rotation would turn its outage (uploads and compares answer 503 with Retry-After, jobs
    wait and retry) into an outage of everything (tokens, status, details)."""
    database = await run_in_threadpool(svc.db.ping)
    blobs = await run_in_threadpool(_blobs_reachable, svc)
    engine = svc.engine is not None
    ready = database and engine
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "database": database, "engine": engine, "blobs": blobs},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", responses={200: {"content": {"text/plain": {}}}})
async def metrics(svc: Svc) -> Response:
    """Prometheus metrics: requests, latency, submissions by result, callback deliveries by outcome."""
    return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)
