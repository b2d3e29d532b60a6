"""The worker's health endpoint: /metrics behind the admin token as the API's is (404 without a
token outside development and test, 401 without the right one, Bearer or Basic)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import httpx
import pytest

from facematch.flows.context import Services
from facematch.worker.health import HealthServer

Serve = Callable[[bytes | None, bool], str]


@pytest.fixture
def serve(fake_services: Services) -> Iterator[Serve]:
    """Starts a health server (its /metrics token, whether it is open without one); its URL."""
    started: list[HealthServer] = []

    def start(token: bytes | None, open_without_token: bool) -> str:
        server = HealthServer(
            fake_services,
            "127.0.0.1",
            0,
            alive=lambda: True,
            analyses=False,
            metrics_token=token,
            metrics_open=open_without_token,
        )
        server.start()
        started.append(server)
        return f"http://127.0.0.1:{server.port}"

    yield start
    for server in started:
        server.stop()


def test_without_a_token_metrics_are_hidden_outside_development(serve: Serve) -> None:
    production = serve(None, False)
    assert httpx.get(production + "/metrics").status_code == 404
    assert httpx.get(production + "/healthz").status_code == 200
    assert httpx.get(serve(None, True) + "/metrics").status_code == 200  # development and test


def test_with_a_token_metrics_need_it(serve: Serve) -> None:
    url = serve(b"s3cret-metrics", False)
    refused = httpx.get(url + "/metrics")
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")
    assert httpx.get(url + "/metrics", headers={"authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(url + "/metrics", headers={"authorization": "Bearer s3cret-metrics"}).status_code == 200
    basic = base64.b64encode(b"ops:s3cret-metrics").decode()
    answer = httpx.get(url + "/metrics", headers={"authorization": f"Basic {basic}"})
    assert answer.status_code == 200 and "facematch" in answer.text
    assert httpx.get(url + "/healthz").status_code == 200  # health needs no token
