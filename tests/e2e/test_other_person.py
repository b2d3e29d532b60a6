"""Someone else than the reference: retry screens until the attempts run out, then the status."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from servicekit import wait_for

from .browser import assert_action_visible, new_page, read_qr, take_selfie
from .conftest import Stack, shot

pytestmark = pytest.mark.e2e
CLIP = "other"


def test_retry_until_attempts_run_out_then_status(stack: Stack, browser: Any) -> None:
    page = new_page(browser, width=360, height=560, phone=True)  # a small phone with its browser bars
    psid = stack.start_flow(page)
    take_selfie(page)
    for left in (2, 1):
        page.locator("#screen-retry").wait_for(state="visible")
        assert page.locator("#retry-left").inner_text() == f"Sisa percobaan: {left}"
        assert "belum cocok" in page.locator("#retry-reason").inner_text()
        assert assert_action_visible(page)["button"] == "btn-retry"
        if left == 2:
            time.sleep(1.5)  # several status polls later the retry screen is still there
            assert page.locator("#screen-retry").is_visible()
            shot(page, "retry-phone", docs=True)
            # between attempts the partner already sees each verdict
            interim = stack.partner_view(psid)["details"]["data"]
            assert interim["status"] == "IN_PROGRESS"
            assert [a["reasonCode"] for a in interim["attempts"]] == ["FACE_MATCH_FAILED"]
        page.click("#btn-retry")
        page.locator("#btn-shoot:not([disabled])").wait_for()
        assert page.locator("#attempts").inner_text() == f"Percobaan {4 - left} dari 3"
        page.click("#btn-shoot")
        page.click("#btn-submit")
    page.locator("#screen-status").wait_for(state="visible")
    assert page.locator("#status-title").inner_text() == "Verifikasi tidak berhasil"
    assert "0." not in page.locator("main").inner_text()  # no scores or thresholds on screen
    shot(page, "status-rejected-phone", docs=True)
    page.go_back()  # Android's Back on the final screen: the truth, not a drop-off
    page.wait_for_url(stack.demo_url + "/result/success*")
    assert parse_qs(urlsplit(page.url).query) == {"status": ["COMPLETED"], "partner_session_id": [psid]}
    view = wait_for(lambda: (v := stack.partner_view(psid))["webhooks"] and v, timeout=30, interval=0.25)
    details = view["details"]["data"]
    assert (details["status"], details["result"], details["reasonCode"]) == (
        "COMPLETED",
        "INVALID",
        "FACE_MATCH_FAILED",
    )
    assert len(view["webhooks"]) == 1 and view["webhooks"][0]["payload"]["reasonCode"] == "FACE_MATCH_FAILED"
    page.context.close()


def test_a_phone_retries_while_the_desktop_follows(stack: Stack, browser: Any) -> None:
    desktop = new_page(browser)
    psid = stack.start_flow(desktop, force_qr=True)
    link = read_qr(desktop)
    phone = new_page(browser, width=412, height=915, phone=True)
    phone.goto(link)
    take_selfie(phone)
    phone.locator("#screen-retry").wait_for(state="visible")
    assert phone.locator("[data-action=leave]:visible").count() == 0  # only the desktop calls back
    wait_for(lambda: "Foto perlu diulang" in desktop.locator("#qr-state").inner_text(), timeout=30)
    for _ in range(2):
        phone.locator("#screen-retry").wait_for(state="visible")
        phone.click("#btn-retry")
        phone.locator("#btn-shoot:not([disabled])").wait_for()
        phone.click("#btn-shoot")
        phone.click("#btn-submit")
    phone.locator("#screen-phone-done").wait_for(state="visible")
    desktop.locator("#screen-status").wait_for(state="visible")
    assert desktop.locator("#status-title").inner_text() == "Verifikasi tidak berhasil"
    desktop.click("#btn-done")
    desktop.wait_for_url(stack.demo_url + "/result/success*")
    assert stack.partner_view(psid)["details"]["data"]["reasonCode"] == "FACE_MATCH_FAILED"
    phone.context.close()
    desktop.context.close()
