"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from facematch.api.deps import Svc
from facematch.api.schemas import Health, Readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={200: {"model": Readiness}, 503: {"model": Readiness}})
async def readyz(svc: Svc) -> JSONResponse:
    """The engine is loaded and the database answers."""
    database = await run_in_threadpool(svc.db.ping)
    engine = svc.engine is not None
    ready = database and engine
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "database": database, "engine": engine},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", responses={200: {"content": {"text/plain": {}}}})
async def metrics(svc: Svc) -> Response:
    """Prometheus metrics: requests, latency, submissions by result, callback deliveries by outcome."""
    return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)
