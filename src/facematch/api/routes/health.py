"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from facematch.api.deps import Svc
from facematch.api.schemas import Health, Readiness
from facematch.flows import health

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={200: {"model": Readiness}, 503: {"model": Readiness}})
async def readyz(svc: Svc) -> JSONResponse:
    """The database answers and the engine is loaded (200; else 503); ``blobs`` tells whether the
    image store answers too, without deciding readiness (see :mod:`facematch.flows.health`)."""
    state = await run_in_threadpool(health.readiness, svc, analyses=True)
    return JSONResponse(state.view(), status_code=200 if state.ready else 503)


@router.get("/metrics", responses={200: {"content": {"text/plain": {}}}})
async def metrics(svc: Svc) -> Response:
    """Prometheus metrics: requests, latency, submissions by result, callback deliveries by outcome."""
    return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)
