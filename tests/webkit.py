"""The hosted flow's test kit: services and the app on the test's database (fake engine), partners
and started web flows (a pytest plugin of the suite, like ``servicekit``)."""

from __future__ import annotations

import base64
import dataclasses
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from facematch.api.app import create_app
from facematch.api.links import RouteLinks
from facematch.config import Settings
from facematch.engine.fake import FakeEngine, fake_face_image
from facematch.flows import initiate, partners
from facematch.flows.context import Services
from facematch.flows.web import session as web_session
from facematch.security.tokens import TokenKind
from facematch.services import build_services

with warnings.catch_warnings():
    # Starlette nudges towards httpx2; the in-process client is all these tests need.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

REFERENCE_PERSON = 7


@dataclass
class Started:
    """One Initiate Flow (WEB_SDK) session."""

    partner_id: str
    partner_session_id: str
    launch_token: str


class WebWorld:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._count = 0

    def partner(self, **options: object) -> partners.NewPartner:
        opts = partners.PartnerOptions(
            onboarding_partners=["DEMO-WEB_SDK-FACE_MATCH"],
            reference_hosts=["partner.test"],
            frame_origins=["https://partner.test"],
            **options,  # type: ignore[arg-type]
        )
        with self.svc.db.session() as session:
            created = partners.create_partner("Toko Contoh", opts, session=session, box=self.svc.secrets)
            session.expunge(created.partner)
        return created

    def start(self, partner_id: str, **details: object) -> Started:
        self._count += 1
        psid = f"psid-{self._count}"
        token = self.svc.tokens.issue(TokenKind.PARTNER, partner_id, 3600).token
        result = initiate.initiate_flow(
            self.svc,
            initiate.InitiateRequest(
                token=token,
                onboarding_partner="DEMO-WEB_SDK-FACE_MATCH",
                partner_user_id="user-1",
                partner_user_id_type="TEST_ID",
                partner_session_id=psid,
                body={
                    "flow": "FACE_MATCH",
                    "source": "WEB_SDK",
                    "successRedirectionUrl": "https://partner.test/ok",
                    "failureRedirectionUrl": "https://partner.test/fail",
                    "additionalDetails": {"referenceImageUrl": "https://partner.test/ref", **details},
                },
            ),
        )
        assert result.launch_url is not None
        return Started(partner_id, psid, result.launch_url.split("token=", 1)[1])

    def session(self, partner_id: str, **details: object) -> web_session.WebSession:
        """A desktop web session of a new flow of ``partner_id`` (its launch token exchanged)."""
        opened = web_session.open_session(self.svc, self.start(partner_id, **details).launch_token)
        return web_session.resolve_session(self.svc, opened.token)


def _reference(url: str, *, headers: Mapping[str, str], allowed_hosts: Sequence[str]) -> bytes:
    return fake_face_image(REFERENCE_PERSON)


def _settings(database_url: str, tmp_path: Path, **groups: dict[str, object]) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path,
        database={"url": database_url},
        tokens={"secret": base64.b64encode(os.urandom(32)).decode()},
        blobs={"key": base64.b64encode(os.urandom(32)).decode()},
        **groups,  # type: ignore[arg-type]
    )


def web_services(database_url: str, tmp_path: Path, **groups: dict[str, object]) -> Services:
    """Services over the test session's database (SQLite, or PostgreSQL when configured)."""
    settings = _settings(database_url, tmp_path, **groups)
    services = build_services(settings, engine=FakeEngine(), links=RouteLinks(settings))
    return dataclasses.replace(services, fetch_reference=_reference)


@pytest.fixture
def svc(database_url: str, tmp_path: Path) -> Iterator[Services]:
    services = web_services(database_url, tmp_path)
    yield services
    services.db.dispose()


@pytest.fixture
def world(svc: Services) -> WebWorld:
    return WebWorld(svc)


@pytest.fixture
def app_world(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, WebWorld]]:
    """The real app (fake engine, no background threads) over the test session's database."""
    app = create_app(_settings(database_url, tmp_path), engine=FakeEngine(), background=False)
    app.state.services.fetch_reference = _reference
    with TestClient(app, base_url="https://facematch.test") as client:
        yield client, WebWorld(app.state.services)
