"""One readiness rule for the API and the worker."""

from __future__ import annotations

import pytest

from facematch.errors import BlobStoreUnavailableError
from facematch.flows.context import Services
from facematch.flows.health import readiness


def test_a_process_that_analyses_is_ready_once_its_engine_is_loaded(fake_services: Services) -> None:
    assert readiness(fake_services, analyses=True).view() == {
        "status": "ready",
        "database": True,
        "engine": True,
        "blobs": True,
    }
    fake_services.engine = None
    assert not readiness(fake_services, analyses=True).ready
    assert readiness(fake_services, analyses=False).view()["engine"] is None  # --jobs 0: needs none
    assert readiness(fake_services, analyses=False).ready


def test_an_image_store_outage_is_reported_without_taking_the_process_out(
    fake_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down() -> None:
        raise BlobStoreUnavailableError("the image store is not reachable", retry_after_s=5)

    monkeypatch.setattr(fake_services.blobs, "check", down)
    state = readiness(fake_services, analyses=True)
    assert state.ready and state.view()["blobs"] is False
    assert not readiness(fake_services, analyses=True, stopping=True).ready  # a draining worker
