"""One real uvicorn server (fake engine) per test module, and a partner client for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from facematch.engine.fake import fake_face_image
from partner_client import Api, make_api
from servicekit import LiveServer, live_app


@pytest.fixture(scope="module")
def live(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_app(database_url, tmp_path_factory.mktemp("live")) as server:
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
