"""``create_app(settings, engine=...)``: the FastAPI app. Nothing happens at import time; the
lifespan loads the real engine (when none was passed in) and starts the job workers and the
callback sender, and stops them on shutdown."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute

from facematch import __version__
from facematch.api import errors, openapi
from facematch.api.console import pages as console_pages
from facematch.api.console.deps import error_page
from facematch.api.errors import Surface
from facematch.api.links import RouteLinks
from facematch.api.middleware import AdminGuard, PathHeaders, RequestContext
from facematch.api.routes import (
    console,
    console_admin,
    console_login,
    console_review,
    health,
    partner,
    submissions,
    tokens,
    web,
)
from facematch.clock import Clock
from facematch.config import Settings, get_settings
from facematch.engine.types import Engine
from facematch.security import admin
from facematch.services import build_services, check_blob_store, load_engine
from facematch.worker.runtime import Background

log = logging.getLogger(__name__)

DESCRIPTION = """OneKYC-compatible Face Match: token gateway, Initiate Flow, presigned uploads,
confirm, status, submission details, signed completion callbacks, and a synchronous compare.
Errors use the envelope `{success:false, errors:[{code, cause, entity}]}`."""


def create_app(
    settings: Settings, *, engine: Engine | None = None, background: bool = True, clock: Clock | None = None
) -> FastAPI:
    """The app. ``engine``: the face engine to use (default: load the real one at start-up).
    ``background``: start the job workers and callback sender with the app. ``clock``: the time
    the flows see (default: the real one)."""
    svc = build_services(settings, engine=engine, links=RouteLinks(settings), clock=clock)
    runner = Background(svc)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(check_blob_store, svc.blobs)
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
            await run_in_threadpool(svc.close)

    app = FastAPI(
        title="facematch",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=openapi.operation_id,
    )
    app.state.services = svc
    app.state.background = runner
    errors.install(app)
    openapi.install(app)
    for module in (tokens, partner, submissions, health, web):
        app.include_router(module.router)
    if settings.console.enabled:
        for pages in (console_login, console, console_review, console_admin):
            app.include_router(pages.router)
        app.state.console_error_page = error_page
    # added innermost first: the console's headers are outermost, so even the answer to an
    # unexpected error gets them
    app.add_middleware(PathHeaders, prefix="/web", headers=web.HEADERS, fallback=web.FALLBACK_HEADERS)
    app.add_middleware(
        AdminGuard, token=admin.admin_token(settings), open_without_token=admin.open_without_token(settings)
    )
    app.add_middleware(
        RequestContext,
        metrics=svc.metrics,
        body_limit=body_limits(
            settings, [*submissions.router.routes, *partner.router.routes, *web.router.routes]
        ),
        redacted_prefix=web.HANDOFF_PREFIX,
    )
    if settings.console.enabled:
        app.add_middleware(PathHeaders, prefix=console_pages.PREFIX, headers=console_pages.HEADERS)
    return app


def body_limits(settings: Settings, routes: Sequence[BaseRoute]) -> Callable[[str], int]:
    """The largest body each path may send: an image where the route takes one, else a small JSON
    body. The paths are the routes' own (found by name), so a moved route keeps its cap."""
    caps = {
        Surface.UPLOAD.value: settings.engine.max_image_bytes + 64 * 1024,
        Surface.FACE_MATCH.value: settings.server.max_body_bytes,
        web.CAPTURE_ROUTE: settings.web.capture_max_bytes,
        web.PREVIEW_ROUTE: settings.web.preview_max_bytes,
        web.FRAME_ROUTE: settings.liveness.frame_max_bytes,
    }
    patterns = [
        (route.path_regex, caps[route.name])
        for route in routes
        if isinstance(route, APIRoute) and route.name in caps
    ]
    assert set(caps) <= {r.name for r in routes if isinstance(r, APIRoute)}, "a capped route is missing"
    small = settings.server.max_json_body_bytes

    def limit(path: str) -> int:
        return next((cap for pattern, cap in patterns if pattern.match(path)), small)

    return limit


def app_from_environment() -> FastAPI:
    """The app for ``uvicorn --factory facematch.api.app:app_from_environment``. ``facematch serve``
    is the supported way to run it: it adds the connection guard of :mod:`facematch.api.server`."""
    return create_app(get_settings())
