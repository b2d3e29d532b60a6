"""The worker's own small HTTP endpoint: ``/healthz`` (the process and its loops are up),
``/readyz`` (the API's rule, :mod:`facematch.flows.health`) and ``/metrics`` (Prometheus, behind
the admin token as the API's is: :mod:`facematch.security.admin`)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from facematch.flows import health
from facematch.flows.context import Services
from facematch.security.admin import CHALLENGE, authorized


class HealthServer:
    def __init__(
        self,
        svc: Services,
        host: str,
        port: int,
        *,
        alive: Callable[[], bool],
        analyses: bool,
        metrics_token: bytes | None,
        metrics_open: bool,
    ) -> None:
        """``analyses``: whether this worker runs jobs (and so needs its engine to be ready);
        ``metrics_token``: what /metrics requires (None: nothing where ``metrics_open``, else it
        answers 404)."""
        services = svc

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    up = alive()
                    self._json(200 if up else 503, {"status": "ok" if up else "stopping"})
                elif path == "/readyz":
                    state = health.readiness(services, analyses=analyses, stopping=not alive())
                    self._json(200 if state.ready else 503, state.view())
                elif path == "/metrics":
                    self._metrics()
                else:
                    self._json(404, {"status": "not found"})

            def _metrics(self) -> None:
                if metrics_token is None and not metrics_open:
                    self._json(404, {"status": "not found"})
                elif metrics_token is not None and not authorized(
                    (self.headers.get("authorization") or "").encode("latin-1"), metrics_token
                ):
                    self._json(401, {"status": "unauthorized"}, {"www-authenticate": CHALLENGE.decode()})
                else:
                    self._send(200, CONTENT_TYPE_LATEST, generate_latest(services.metrics.registry))

            def _json(
                self, status: int, body: Mapping[str, object], headers: Mapping[str, str] | None = None
            ) -> None:
                self._send(status, "application/json", json.dumps(body).encode(), headers)

            def _send(
                self, status: int, content_type: str, payload: bytes, headers: Mapping[str, str] | None = None
            ) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="facematch-health", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
