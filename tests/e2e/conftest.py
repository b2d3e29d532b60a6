"""End-to-end harness: a real facematch (real engine) and the demo partner on loopback, and Debian
Chromium driven by Playwright with a fake camera playing a clip made from ``../shared/faces``.

One facematch + demo partner and one browser per test module (the camera clip is a launch
argument; a server per module keeps its job workers from outliving the module). Screenshots go
to ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from facematch.demo_partner.app import DemoConfig, create_demo_app
from facematch.demo_partner.client import PartnerCredentials
from facematch.engine.types import Engine
from servicekit import ONBOARDING, LiveServer, create_partner, free_port, live_app

from .browser import CHROMIUM, launch_chromium, new_page
from .clips import empty_frame, face_frame, flicker_frames, write_sequence, write_y4m

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
DOCS_SHOTS = ROOT / "docs" / "screenshots"
REFERENCE = "p_img20.jpg"
#: The camera clips: the reference's person, someone else, and an empty wall.
CLIP_SOURCES = {"same": "p_img21.jpg", "other": "p_img22.jpg"}


@dataclass
class Stack:
    facematch: LiveServer
    demo: LiveServer
    demo_url: str
    reference: Path
    partner_id: str

    @property
    def facematch_url(self) -> str:
        return self.facematch.url

    def start_flow(self, page: Any, *, mode: str = "redirect", **options: str | bool) -> str:
        """Use the demo partner's form like a user; returns the partner session id."""
        page.goto(self.demo_url + "/")
        page.set_input_files("#reference", str(self.reference))
        page.check(f"input[name=mode][value={mode}]")
        if "locale" in options:
            page.select_option("#locale", str(options["locale"]))
        if "theme" in options:
            page.select_option("#theme", str(options["theme"]))
        for flag in ("allow_qr", "force_qr", "portrait_only"):
            if options.get(flag):
                page.check(f"input[name={flag}]")
        before = set(httpx.get(self.demo_url + "/api/sessions").json())
        page.click("#start")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            new = set(httpx.get(self.demo_url + "/api/sessions").json()) - before
            if new:
                return new.pop()
            time.sleep(0.05)
        raise AssertionError("the demo partner did not start a flow")

    def partner_view(self, psid: str) -> dict[str, Any]:
        response = httpx.get(f"{self.demo_url}/api/sessions/{psid}", timeout=15)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data


@pytest.fixture(scope="session")
def real_engine() -> Engine:
    from facematch.engine.facade import FaceEngine

    return FaceEngine.load()


@pytest.fixture(scope="module")
def stack(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory, real_engine: Engine, faces_dir: Path
) -> Iterator[Stack]:
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is required for the e2e tests (make test installs it)")
    demo_port = free_port()
    demo_url = f"http://127.0.0.1:{demo_port}"
    with live_app(module_database_url, tmp_path_factory.mktemp("e2e"), engine=real_engine) as facematch:
        creds = create_partner(
            facematch.services.db,
            frame_origins=[demo_url],
            reference_hosts=["127.0.0.1"],
            callback_url=demo_url + "/webhook",
        )
        _rename_partner(facematch, creds.partner_id, "Toko Demo")
        config = DemoConfig(
            facematch_url=facematch.url,
            public_url=demo_url,
            credentials=PartnerCredentials(creds.client_id, creds.passkey, ONBOARDING, creds.webhook_secret),
            partner_name="Toko Demo",
        )
        with LiveServer(create_demo_app(config), demo_port) as demo:
            yield Stack(facematch, demo, demo_url, faces_dir / "images" / REFERENCE, creds.partner_id)


def _rename_partner(server: LiveServer, partner_id: str, name: str) -> None:
    set_partner(server, partner_id, name=name)


def set_partner(server: LiveServer, partner_id: str, **values: Any) -> None:
    """Change per-partner settings the way `facematch partner` would."""
    from facematch.storage.models import Partner

    with server.services.db.session() as session:
        partner = session.get(Partner, partner_id)
        for key, value in values.items():
            setattr(partner, key, value)


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory, real_engine: Engine, faces_dir: Path) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    made = {
        name: write_y4m(face_frame(faces_dir / "images" / photo, real_engine), folder / f"{name}.y4m")
        for name, photo in CLIP_SOURCES.items()
    }
    made["empty"] = write_y4m(empty_frame(), folder / "empty.y4m")
    made["flicker"] = write_sequence(flicker_frames(), folder / "flicker.y4m")
    return made


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver: Any, clips: dict[str, Path], request: pytest.FixtureRequest) -> Iterator[Any]:
    """The module's browser: its camera plays the clip the module names in ``CLIP``."""
    browser = launch_chromium(playwright_driver, clips[request.module.CLIP])
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A desktop page (1280x900) in a fresh context."""
    page = new_page(browser)
    yield page
    page.context.close()


def shot(page: Any, name: str, *, docs: bool = False, full_page: bool = False) -> Path:
    """Save a screenshot under test-artifacts/; ``docs``: also refresh the README's copy when
    FACEMATCH_UPDATE_SCREENSHOTS=1 (so ordinary runs leave the work tree clean)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    if docs and os.environ.get("FACEMATCH_UPDATE_SCREENSHOTS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SHOTS / path.name)
    return path
