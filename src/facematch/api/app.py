"""``create_app(settings, engine=...)``: the FastAPI app. Nothing happens at import time; the
lifespan loads the real engine (when none was passed in) and starts the job workers and the
callback sender, and stops them on shutdown."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from facematch import __version__
from facematch.api import errors
from facematch.api.console.deps import error_page
from facematch.api.console.pages import ConsoleSecurityHeaders
from facematch.api.observability import RequestContextMiddleware
from facematch.api.routes import (
    console,
    console_admin,
    console_login,
    health,
    partner,
    submissions,
    tokens,
    web,
)
from facematch.config import Settings, get_settings
from facematch.engine.types import Engine
from facematch.worker.runtime import Background, build_services, load_engine

log = logging.getLogger(__name__)

DESCRIPTION = """OneKYC-compatible Face Match: token gateway, Initiate Flow, presigned uploads,
confirm, status, submission details, signed completion callbacks, and a synchronous compare.
Errors use the envelope `{success:false, errors:[{code, cause, entity}]}`."""


def create_app(settings: Settings, *, engine: Engine | None = None, background: bool = True) -> FastAPI:
    """The app. ``engine``: the face engine to use (default: load the real one at start-up).
    ``background``: start the job workers and callback sender with the app."""
    svc = build_services(settings, engine=engine)
    runner = Background(svc)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if svc.engine is None:
            svc.engine = await run_in_threadpool(load_engine, settings)
            log.info("face engine loaded", extra={"model_version": svc.engine.model_version})
        if background:
            runner.start()
        try:
            yield
        finally:
            if background:
                await run_in_threadpool(runner.stop)
            svc.db.dispose()

    app = FastAPI(title="facematch", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.services = svc
    app.state.background = runner
    errors.install(app)
    for module in (tokens, partner, submissions, health, web):
        app.include_router(module.router)
    if settings.console.enabled:
        for pages in (console_login, console, console_admin):
            app.include_router(pages.router)
        app.state.console_error_page = error_page
    app.add_middleware(web.WebSecurityHeaders)
    app.add_middleware(
        RequestContextMiddleware, metrics=svc.metrics, max_body_bytes=settings.server.max_body_bytes
    )
    if settings.console.enabled:  # outermost: even the answer to an unexpected error gets the headers
        app.add_middleware(ConsoleSecurityHeaders)
    return app


def app_from_environment() -> FastAPI:
    """The app for ``uvicorn --factory facematch.api.app:app_from_environment`` (and ``facematch serve``)."""
    return create_app(get_settings())
