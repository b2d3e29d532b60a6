"""One real uvicorn server (fake engine) per test module, and a partner client for it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from facematch.engine.fake import fake_face_image
from partner_client import Api, make_api
from servicekit import LiveServer, Receiver, live_app, wait_for


@pytest.fixture(scope="module")
def live(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_app(module_database_url, tmp_path_factory.mktemp("live")) as server:
        yield server


@pytest.fixture
def api(live: LiveServer) -> Iterator[Api]:
    client = make_api(live)
    try:
        yield client
    finally:
        client.http.close()


@pytest.fixture
def images() -> dict[str, bytes]:
    return {"alice": fake_face_image(1), "alice2": fake_face_image(1), "bob": fake_face_image(2)}


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    """A callback receiver that answers 200."""
    receiver = Receiver(lambda _, __: (200, {}, b"ok")).start()
    yield receiver
    receiver.stop()


def signed_callback(api: Api, hooks: Receiver, psid: str) -> dict[str, Any]:
    """The one callback of session ``psid`` that reached ``hooks``, verified by the off-the-shelf
    Standard Webhooks verifier."""

    def arrived() -> list[Any]:
        return [r for r in hooks.requests if json.loads(r.body)["partnerSessionId"] == psid]

    [request] = wait_for(arrived)
    payload: dict[str, Any] = Webhook(api.creds.webhook_secret).verify(request.body, request.headers)
    return payload
