"""The hosted flow's head-move challenge in real Chromium, its fake camera playing a y4m built from
real photos: one person at the poses the challenge asks for passes to VALID with its callback; the
frontal photo held as a print and turned through the same moves ends NOT_LIVE with its callback.

The camera cannot follow the guidance, so the challenge is drawn from a seeded source and filmed in
advance (the fake camera starts its file when the page opens the camera, after consent)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from clipkit import live_moves, load_poses, print_moves, y4m
from facematch.engine.liveness import random_challenge
from servicekit import wait_for

from .browser import launch_chromium, new_page
from .conftest import Stack, set_partner, shot

pytestmark = pytest.mark.e2e
FPS = 5
SIZE = (480, 360)
#: 3 s to open the camera and fetch the challenge, each pose 1.6 s, then 20 s facing the camera
LEAD, HOLD, TAIL = 15, 8, 100


@pytest.fixture(scope="module")
def poses(faces_dir: Path) -> dict[str, np.ndarray]:
    return load_poses(faces_dir)


@pytest.fixture
def playwright_browser(playwright_driver: Any, tmp_path: Path) -> Iterator[Any]:
    holder: dict[str, Any] = {}

    def launch(frames: list[np.ndarray]) -> Any:
        clip = tmp_path / "challenge.y4m"
        clip.write_bytes(y4m(frames, fps=FPS))
        holder["browser"] = launch_chromium(playwright_driver, clip)
        return holder["browser"]

    yield launch
    if "browser" in holder:
        holder["browser"].close()


def moves_of(seed: int) -> list[str]:
    return [move.value for move in random_challenge(random.Random(seed), now=0.0).moves]


def run(
    stack: Stack, launch: Any, frames_for: Any, seed: int, faces_dir: Path, **partner: Any
) -> tuple[Any, str]:
    set_partner(stack.facematch, stack.partner_id, liveness="active", **partner)
    stack.reference = faces_dir / "images" / "obama3.jpg"
    stack.facematch.services.rng = random.Random(seed)  # the next challenge's moves: moves_of(seed)
    browser = launch(frames_for(moves_of(seed)))
    page = new_page(browser, width=360, height=560, phone=True)
    psid = stack.start_flow(page)
    page.locator("#screen-landing").wait_for(state="visible")
    page.check("#consent")
    page.click("#btn-start")
    page.locator("#screen-challenge").wait_for(state="visible")
    return page, psid


def test_a_live_person_doing_the_moves_passes_to_valid(
    stack: Stack, playwright_browser: Any, poses: dict[str, np.ndarray], faces_dir: Path
) -> None:
    seed = 3  # three moves: TURN_RIGHT, TURN_LEFT, COME_CLOSER
    page, psid = run(
        stack,
        playwright_browser,
        lambda m: live_moves(poses, m, lead=LEAD, hold=HOLD, tail=TAIL, size=SIZE),
        seed,
        faces_dir,
    )
    said: list[str] = []

    def guided() -> bool:
        text = page.locator("#challenge-say").inner_text()
        if text and (not said or said[-1] != text):
            said.append(text)
            if "Gerakan 1 dari 3" in text:
                shot(page, "liveness-guided-phone", docs=True)
        return not page.locator("#screen-challenge").is_visible()

    wait_for(guided, timeout=60, interval=0.1)
    assert any("Gerakan 1 dari 3" in text for text in said), said
    page.locator("#screen-status").wait_for(state="visible", timeout=60_000)
    assert page.locator("#status-title").inner_text() == "Verifikasi selesai"
    page.click("#btn-done")
    page.wait_for_url(stack.demo_url + "/result/success*")
    view = wait_for(lambda: (v := stack.partner_view(psid))["webhooks"] and v, timeout=60, interval=0.25)
    data = view["details"]["data"]
    assert (data["status"], data["result"], data["reasonCode"]) == ("COMPLETED", "VALID", "")
    liveness = data["submissionDetails"]["verificationResults"]["liveness"]
    assert liveness["result"] is True and {c["name"] for c in liveness["checks"]} >= {"DEPTH", "MOVES"}
    assert (
        view["webhooks"][0]["payload"]["submissionDetails"]["verificationResults"]["liveness"]["result"]
        is True
    )
    page.context.close()


def test_a_print_turned_through_the_moves_ends_not_live(
    stack: Stack, playwright_browser: Any, poses: dict[str, np.ndarray], faces_dir: Path
) -> None:
    seed = 0  # TURN_LEFT, TURN_RIGHT
    page, psid = run(
        stack,
        playwright_browser,
        lambda m: print_moves(poses["FRONT"], m, lead=LEAD, hold=HOLD, tail=TAIL, size=SIZE),
        seed,
        faces_dir,
        max_attempts=1,
    )
    page.locator("#screen-status").wait_for(state="visible", timeout=60_000)
    assert page.locator("#status-title").inner_text() == "Verifikasi tidak berhasil"
    assert "langsung darimu" in page.locator("#status-text").inner_text()
    shot(page, "liveness-not-live-phone")
    view = wait_for(lambda: (v := stack.partner_view(psid))["webhooks"] and v, timeout=60, interval=0.25)
    data = view["details"]["data"]
    assert (data["status"], data["result"], data["reasonCode"]) == ("COMPLETED", "INVALID", "NOT_LIVE")
    assert "faceMatch" not in data["submissionDetails"]["verificationResults"]
    assert view["webhooks"][0]["payload"]["reasonCode"] == "NOT_LIVE"
    page.context.close()
