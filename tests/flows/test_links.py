"""Flows spell no route: every URL they hand out comes from the Links they are given, and the API's
links are its own routes."""

from __future__ import annotations

import dataclasses
import warnings
from urllib.parse import urlsplit

import pytest

from facematch.api.app import create_app
from facematch.api.links import RouteLinks
from facematch.config import Settings
from facematch.engine.fake import FakeEngine, fake_face_image
from facematch.flows import submissions
from facematch.flows.context import Services
from facematch.flows.links import NoLinks
from servicekit import create_partner, user_token

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette nudges towards httpx2; the in-process client is enough
    from fastapi.testclient import TestClient


class RecordedLinks:
    def upload(self, submission_id: str, document: str, signature: str) -> str:
        return f"links://upload/{submission_id}/{document}/{signature}"

    def selfie_image(self, submission_id: str, signature: str) -> str:
        return f"links://selfie/{submission_id}/{signature}"

    def launch(self, token: str) -> str:
        return f"links://launch/{token}"

    def handoff(self, code: str) -> str:
        return f"links://handoff/{code}"


def _user_request(svc: Services, psid: str) -> submissions.UserRequest:
    return submissions.UserRequest(user_token(svc, create_partner(svc.db)), psid, "sdk-1")


def test_presigned_urls_come_from_the_links(fake_services: Services) -> None:
    svc = dataclasses.replace(fake_services, links=RecordedLinks())
    presigned = submissions.presign(svc, _user_request(svc, "psid-links"), "FACE_MATCH")
    for document, slot in presigned.documents.items():
        assert slot.url.startswith(f"links://upload/{presigned.submission_id}/{document}/eyJ")


def test_a_process_without_the_api_hands_out_no_links(fake_services: Services) -> None:
    svc = dataclasses.replace(fake_services, links=NoLinks())
    with pytest.raises(RuntimeError, match="built by the HTTP API"):
        submissions.presign(svc, _user_request(svc, "psid-none"), "FACE_MATCH")


def test_the_api_links_are_its_routes(settings: Settings) -> None:
    """A presigned URL from RouteLinks is answered by the upload route of the app (a renamed or moved
    route would move the link with it, or fail here)."""
    app = create_app(settings, engine=FakeEngine(), background=False)
    links = RouteLinks(settings)
    svc: Services = app.state.services
    presigned = submissions.presign(svc, _user_request(svc, "psid-routes"), "FACE_MATCH")
    url = presigned.documents["SELFIE"].url
    assert url.startswith(settings.server.public_url)
    assert url == links.upload(presigned.submission_id, "SELFIE", url.split("signature=", 1)[1])
    parts = urlsplit(url)
    with TestClient(app) as client:
        answer = client.put(f"{parts.path}?{parts.query}", content=fake_face_image(1))
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"] == {
        "documentReference": f"{presigned.submission_id}/SELFIE",
        "status": "UPLOADED",
    }
    assert urlsplit(links.handoff("abc")).path == "/web/h/abc"
