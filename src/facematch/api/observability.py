"""Structured JSON logs with a request id, the access log, Prometheus request metrics and the body
cap: pure ASGI middleware (no BaseHTTPMiddleware). Query strings (which carry URL signatures),
headers (which carry tokens and pass-keys) and the code in a Smart QR link path are never logged."""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facematch.api.errors import unexpected_error_response
from facematch.api.routes.web import HANDOFF_PREFIX
from facematch.errors import UploadTooLargeError
from facematch.flows.metrics import Metrics
from facematch.logs import request_id_var

access_log = logging.getLogger("facematch.access")
log = logging.getLogger(__name__)
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestContextMiddleware:
    """Request id (``x-request-id`` in and out), access log, request metrics, body cap.

    ``body_limit(path)`` is the largest body a request to ``path`` may send: endpoints that take an
    image allow one, every other endpoint a small JSON body (so a 31 MiB Initiate Flow body is
    refused as it arrives, chunked or not).
    """

    def __init__(self, app: ASGIApp, *, metrics: Metrics, body_limit: Callable[[str], int]) -> None:
        self.app = app
        self.metrics = metrics
        self.body_limit = body_limit

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
                await _too_large(send_with_id)
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
                loggable_path(scope["path"]),
                status,
                extra={"status": status, "duration_ms": round(elapsed * 1000, 1), "route": template},
            )
            request_id_var.reset(token)


def loggable_path(path: str) -> str:
    """The path as the access log shows it: a Smart QR link's code is a credential and is redacted."""
    if path.startswith(HANDOFF_PREFIX):
        return HANDOFF_PREFIX + "{code}"
    return path


async def _too_large(send: Send) -> None:
    body = json.dumps(
        {"success": False, "errors": [{"code": "413", "cause": "PAYLOAD_TOO_LARGE"}], "data": None}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
