"""A camera that shows no face, a camera the user refuses, and no camera at all."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from .browser import PreviewMeter, hide_tab, launch_chromium, new_page
from .conftest import Stack, shot

pytestmark = pytest.mark.e2e
CLIP = "empty"


def _page(browser: Any) -> Any:
    return new_page(browser, width=1024, height=800)


def _start_camera(page: Any) -> None:
    page.locator("#screen-landing").wait_for(state="visible")
    page.check("#consent")
    page.click("#btn-start")


def test_no_face_gets_guidance_and_nothing_is_submitted(stack: Stack, browser: Any) -> None:
    page = _page(browser)
    meter = PreviewMeter(page)
    psid = stack.start_flow(page)
    _start_camera(page)
    page.locator("#guidance[data-hint=NO_FACE]").wait_for()
    assert page.locator("#guidance").inner_text() == "Arahkan wajahmu ke dalam bingkai oval"
    # the first frames may still show the camera starting up; once the picture is still, it is
    # judged once and nothing more is uploaded
    page.wait_for_timeout(1000)
    judged = time.monotonic()
    page.wait_for_timeout(2000)
    assert page.locator("#btn-shoot").is_disabled()
    assert meter.since(judged) == [] and 1 <= len(meter.sent) <= 3
    assert page.locator("#btn-shoot").is_disabled()
    assert page.locator("#guidance").get_attribute("data-hint") == "NO_FACE"
    shot(page, "guidance-no-face", docs=True)
    details = stack.partner_view(psid)["details"]
    assert details["success"] is False and details["errors"][0]["cause"] == "SUBMISSION_DOES_NOT_EXIST"
    page.context.close()


def _failure(page: Any, stack: Stack) -> dict[str, list[str]]:
    page.click("#btn-error-leave")
    page.wait_for_url(stack.demo_url + "/result/failure*")
    return parse_qs(urlsplit(page.url).query)


def test_camera_permission_denied_calls_back_with_its_code(
    stack: Stack, playwright_driver: Any, clips: dict[str, Path]
) -> None:
    denying = launch_chromium(playwright_driver, clips["empty"], deny_camera=True)
    page = _page(denying)
    psid = stack.start_flow(page)
    _start_camera(page)
    page.locator("#screen-error").wait_for(state="visible")
    assert page.locator("#error-title").inner_text() == "Akses kamera ditolak"
    assert page.locator("#btn-error-retry").is_visible()
    shot(page, "error-camera-denied", docs=True)
    assert _failure(page, stack) == {
        "status": ["ERROR"],
        "partner_session_id": [psid],
        "error_code": ["CAMERA_PERMISSION_DENIED"],
    }
    denying.close()


def test_without_a_camera(stack: Stack, playwright_driver: Any) -> None:
    bare = launch_chromium(playwright_driver, None)
    # allowQr: a desktop without a camera goes straight to the QR.
    page = _page(bare)
    stack.start_flow(page, allow_qr=True)
    page.locator("#screen-qr").wait_for(state="visible")
    assert "tidak punya kamera" in page.locator("#qr-intro").inner_text()
    page.locator("#qr-img").wait_for(state="visible")
    # QR not allowed: the documented error and callback.
    page = _page(bare)
    psid = stack.start_flow(page)
    _start_camera(page)
    page.locator("#screen-error").wait_for(state="visible")
    assert page.locator("#error-title").inner_text() == "Kamera tidak ditemukan"
    assert _failure(page, stack)["error_code"] == ["CAMERA_UNAVAILABLE"]
    assert stack.partner_view(psid)["details"]["success"] is False
    bare.close()


def test_leaving_sends_pending(stack: Stack, browser: Any) -> None:
    page = _page(browser)
    psid = stack.start_flow(page)
    page.locator("#screen-landing").wait_for(state="visible")
    page.click("#screen-landing [data-action=leave]")
    page.wait_for_url(stack.demo_url + "/result/failure*")
    assert parse_qs(urlsplit(page.url).query) == {
        "status": ["ERROR"],
        "partner_session_id": [psid],
        "error_code": ["PENDING"],
    }
    page.context.close()


def test_the_back_button_sends_pending(stack: Stack, browser: Any) -> None:
    page = _page(browser)
    psid = stack.start_flow(page)
    page.locator("#screen-landing").wait_for(state="visible")
    page.go_back()
    page.wait_for_url(stack.demo_url + "/result/failure*")
    query = parse_qs(urlsplit(page.url).query)
    assert query["error_code"] == ["PENDING"] and query["partner_session_id"] == [psid]
    page.context.close()


def test_an_expired_session_calls_back_with_session_timeout(stack: Stack, browser: Any) -> None:
    web = stack.facematch.services.settings.web
    ttl, web.session_ttl_s = web.session_ttl_s, 2
    try:
        page = _page(browser)
        psid = stack.start_flow(page)
        page.locator("#screen-landing").wait_for(state="visible")
    finally:
        web.session_ttl_s = ttl
    time.sleep(3)
    _start_camera(page)
    page.locator("#screen-error").wait_for(state="visible")
    assert page.locator("#error-title").inner_text() == "Sesi sudah berakhir"
    assert _failure(page, stack) == {
        "status": ["ERROR"],
        "partner_session_id": [psid],
        "error_code": ["SESSION_TIMEOUT"],
    }
    page.context.close()


def _rewrite_app(page: Any, stack: Stack, old: str, new: str) -> None:
    """Serve app.js with one constant changed (a test cannot wait a real minute)."""

    def rewrite(route: Any) -> None:
        response = route.fetch()
        script = response.text()
        assert script.count(old) == 1
        route.fulfill(response=response, body=script.replace(old, new))

    page.route(stack.facematch_url + "/web/static/app.js", rewrite)


def test_a_restless_camera_stays_within_the_data_budget(
    stack: Stack, playwright_driver: Any, clips: dict[str, Path]
) -> None:
    restless = launch_chromium(playwright_driver, clips["flicker"])  # the picture changes every frame
    page = _page(restless)
    _rewrite_app(page, stack, "var IDLE_PAUSE_MS = 60000;", "var IDLE_PAUSE_MS = 6000;")
    meter = PreviewMeter(page)
    stack.start_flow(page)
    _start_camera(page)
    page.locator("#guidance[data-hint=NO_FACE]").wait_for()
    started = time.monotonic()
    page.wait_for_timeout(3000)  # (Playwright's own wait, so the meter hears each request as it leaves)
    for _ in range(60):  # a loaded machine sends fewer frames in 3 s: wait for a second one
        if len(meter.since(started)) >= 2:
            break
        page.wait_for_timeout(500)
    window = time.monotonic() - started
    sent = meter.since(started)
    # the browser keeps seeing a change, so it keeps asking, but within the byte budget
    budget = 40 * 1024 + 0.42 * 1048576 / 60 * window
    assert len(sent) >= 2 and sum(sent) <= budget, (len(sent), sum(sent), budget)
    hide_tab(page, True)  # another tab in front: not one frame
    hidden = time.monotonic()
    page.wait_for_timeout(1500)
    assert meter.since(hidden + 0.3) == []  # (a frame already on its way may land)
    hide_tab(page, False)
    shown = time.monotonic()
    page.wait_for_timeout(1000)
    assert meter.since(shown), "previews resume when the tab is visible again"
    # a minute (here six seconds) without a new hint: guidance pauses until the user touches the page
    page.locator("#guidance[data-hint=PAUSED]").wait_for(timeout=15_000)
    assert page.locator("#guidance").inner_text().startswith("Panduan dijeda")
    paused = time.monotonic()
    page.wait_for_timeout(1500)
    assert meter.since(paused + 0.3) == []
    page.mouse.click(10, 300)
    page.locator("#guidance[data-hint=NO_FACE]").wait_for()
    assert meter.since(paused + 1.5)
    restless.close()
