"""Every middleware of the app, as pure ASGI middleware (no BaseHTTPMiddleware), outermost first as
:func:`facematch.api.app.create_app` adds them:

* :class:`PathHeaders`: the security headers of every answer under a path (the console's and the
  web app's, errors and 404s included);
* :class:`RequestContext`: the request id (``x-request-id`` in and out), structured JSON access
  logs, Prometheus request metrics and the body cap per path. Query strings (which carry URL
  signatures), headers (which carry tokens and pass-keys) and the code in a Smart QR link path
  are never logged;
* :class:`AdminGuard`: ``/metrics`` and the API documents behind ``admin.token`` outside
  development (with the token set: ``Authorization: Bearer <token>``, or HTTP Basic with the token
  as the password so a browser asks once; without it: open in development and test, 404
  elsewhere, so a production deployment never publishes per-reason counts by accident).

Their own refusals use the contract's error envelope (:func:`facematch.api.errors.error_body`).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facematch.api.errors import error_body, unexpected_error_response
from facematch.errors import UploadTooLargeError
from facematch.flows.metrics import Metrics
from facematch.logs import request_id_var
from facematch.security.admin import CHALLENGE, authorized

access_log = logging.getLogger("facematch.access")
log = logging.getLogger(__name__)
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
ADMIN_PATHS = frozenset({"/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


async def answer_error(
    send: Send, status: int, cause: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Answer a refusal in the contract's envelope (code = the HTTP status)."""
    body = json.dumps(error_body(str(status), cause)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})


class PathHeaders:
    """Every answer under ``prefix`` (the path itself or below it) carries ``headers``; ``fallback``
    headers are added only when the response did not set them itself (e.g. the page's own CSP)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        prefix: str,
        headers: Mapping[str, str],
        fallback: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        self._prefix = prefix.rstrip("/")
        self._headers = dict(headers)
        self._fallback = dict(fallback or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not (path == self._prefix or path.startswith(self._prefix + "/")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self._headers.items():
                    headers[name] = value
                for name, value in self._fallback.items():
                    if name.lower() not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestContext:
    """Request id (``x-request-id`` in and out), access log, request metrics, body cap.
    ``redacted_prefix``: what follows it in a path is a credential (Smart QR links) and never logged.

    ``body_limit(path)`` is the largest body a request to ``path`` may send: endpoints that take an
    image allow one, every other endpoint a small JSON body (so a 31 MiB Initiate Flow body is
    refused as it arrives, chunked or not).
    """

    def __init__(
        self, app: ASGIApp, *, metrics: Metrics, body_limit: Callable[[str], int], redacted_prefix: str
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.body_limit = body_limit
        self.redacted_prefix = redacted_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _INCOMING_ID.match(incoming) else secrets.token_hex(8)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        declared = dict(scope.get("headers") or []).get(b"content-length")
        limit = self.body_limit(scope["path"])
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise UploadTooLargeError(f"the request body exceeds {limit} bytes")
            return message

        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            if declared is not None and declared.isdigit() and int(declared) > limit:
                await answer_error(send_with_id, 413, "PAYLOAD_TOO_LARGE")
            else:
                await self.app(scope, limited_receive, send_with_id)
        except Exception as error:
            # answered here (not re-raised) so the connection stays usable and the body is ours
            if started_response:
                raise
            log.error("unexpected error", exc_info=error)
            await unexpected_error_response(scope)(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], template, str(status)).inc()
            self.metrics.latency.labels(template).observe(elapsed)
            access_log.info(
                "%s %s %d",
                scope["method"],
                loggable_path(scope["path"], self.redacted_prefix),
                status,
                extra={"status": status, "duration_ms": round(elapsed * 1000, 1), "route": template},
            )
            request_id_var.reset(token)


def loggable_path(path: str, hidden_prefix: str) -> str:
    """The path as the access log shows it: what follows ``hidden_prefix`` (a Smart QR link's code,
    a credential) is redacted."""
    if path.startswith(hidden_prefix):
        return hidden_prefix + "{code}"
    return path


class AdminGuard:
    """Pure ASGI middleware guarding :data:`ADMIN_PATHS`."""

    def __init__(self, app: ASGIApp, *, token: bytes | None, open_without_token: bool) -> None:
        self.app = app
        self._token = token
        self._open = open_without_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in ADMIN_PATHS:
            await self.app(scope, receive, send)
            return
        if self._token is None:
            if self._open:
                await self.app(scope, receive, send)
            else:
                await answer_error(send, 404, "NOT_FOUND")
            return
        if self._allowed(dict(scope.get("headers") or []).get(b"authorization", b"")):
            await self.app(scope, receive, send)
        else:
            await answer_error(send, 401, "UNAUTHORIZED", [(b"www-authenticate", CHALLENGE)])

    def _allowed(self, header: bytes) -> bool:
        assert self._token is not None
        return authorized(header, self._token)
