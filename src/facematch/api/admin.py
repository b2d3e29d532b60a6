"""The operator endpoints (/metrics and the API documents) behind a token outside development.

``admin.token`` set: these paths need ``Authorization: Bearer <token>`` (Prometheus) or HTTP Basic
with the token as the password (a browser asks once and sends it on to /openapi.json). Not set:
open in development and test, 404 elsewhere, so a production deployment never publishes per-reason
counts of every partner by accident.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json

from starlette.types import ASGIApp, Receive, Scope, Send

_CHALLENGE = b'Basic realm="facematch admin"'
ADMIN_PATHS = frozenset({"/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


class AdminGuard:
    """Pure ASGI middleware guarding :data:`ADMIN_PATHS`."""

    def __init__(self, app: ASGIApp, *, token: str | None, open_without_token: bool) -> None:
        self.app = app
        self._token = token.encode() if token else None
        self._open = open_without_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in ADMIN_PATHS:
            await self.app(scope, receive, send)
            return
        if self._token is None:
            if self._open:
                await self.app(scope, receive, send)
            else:
                await _answer(send, 404, "NOT_FOUND")
            return
        if self._allowed(dict(scope.get("headers") or []).get(b"authorization", b"")):
            await self.app(scope, receive, send)
        else:
            await _answer(
                send, 401, "UNAUTHORIZED", [(b"www-authenticate", b'Basic realm="facematch admin"')]
            )

    def _allowed(self, header: bytes) -> bool:
        assert self._token is not None
        scheme, _, value = header.partition(b" ")
        if scheme.lower() == b"bearer":
            return hmac.compare_digest(value.strip(), self._token)
        if scheme.lower() == b"basic":
            try:
                _, _, password = base64.b64decode(value.strip(), validate=True).partition(b":")
            except (binascii.Error, ValueError):
                return False
            return hmac.compare_digest(password, self._token)
        return False


async def _answer(
    send: Send, status: int, cause: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"success": False, "errors": [{"code": str(status), "cause": cause}], "data": None})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body.encode()})
