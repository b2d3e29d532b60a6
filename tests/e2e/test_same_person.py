"""Same person as the reference: redirect and iframe callbacks, themes, portrait lock, Smart QR."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from servicekit import wait_for

from .browser import new_page, read_qr, take_selfie
from .conftest import ARTIFACTS, Stack, set_partner, shot

pytestmark = pytest.mark.e2e
CLIP = "same"


def record_timing(name: str, seconds: float) -> None:
    """Kept for BENCHMARKS.md: test-artifacts/web-timings.jsonl."""
    ARTIFACTS.mkdir(exist_ok=True)
    with (ARTIFACTS / "web-timings.jsonl").open("a") as out:
        out.write(json.dumps({"name": name, "seconds": round(seconds, 3), "at": time.time()}) + "\n")


def test_redirect_mode_same_person_completes(stack: Stack, page: Any) -> None:
    page.goto(stack.demo_url + "/")
    shot(page, "demo-partner-home", docs=True)
    psid = stack.start_flow(page, mode="redirect")
    page.locator("#screen-landing").wait_for(state="visible")
    assert "token=" not in page.url and urlsplit(page.url).fragment == ""
    assert page.locator("#partner-name").inner_text() == "Toko Demo"
    shot(page, "landing-desktop", docs=True)
    sent = take_selfie(page)
    page.locator("#screen-status").wait_for(state="visible")
    record_timing("capture_to_status_s", time.monotonic() - sent)
    assert page.locator("#status-title").inner_text() == "Verifikasi selesai"
    page.click("#btn-done")
    page.wait_for_url(stack.demo_url + "/result/success*")
    page.locator("#webhooks").wait_for()
    query = parse_qs(urlsplit(page.url).query)
    assert query == {"status": ["COMPLETED"], "partner_session_id": [psid]}
    view = wait_for(lambda: (v := stack.partner_view(psid))["webhooks"] and v, timeout=30, interval=0.25)
    details = view["details"]["data"]
    assert (details["status"], details["result"], details["reasonCode"]) == ("COMPLETED", "VALID", "")
    assert details["submissionDetails"]["verificationResults"]["faceMatch"]["result"] is True
    [hook] = view["webhooks"]
    assert hook["verified"] and hook["payload"]["result"] == "VALID"
    assert hook["payload"]["partnerSessionId"] == psid
    page.reload()
    shot(page, "demo-partner-result", docs=True)


def test_hidden_status_screen_calls_back_at_once(stack: Stack, page: Any) -> None:
    set_partner(stack.facematch, stack.partner_id, show_status_screen=False)
    try:
        psid = stack.start_flow(page)
        take_selfie(page)
        page.wait_for_url(stack.demo_url + "/result/success*")  # EXIT: no status screen, no tap
        assert parse_qs(urlsplit(page.url).query)["partner_session_id"] == [psid]
    finally:
        set_partner(stack.facematch, stack.partner_id, show_status_screen=True)


def test_allow_qr_with_a_camera_goes_straight_to_the_flow(stack: Stack, page: Any) -> None:
    stack.start_flow(page, allow_qr=True)
    page.locator("#screen-landing").wait_for(state="visible")
    assert page.locator("#screen-qr").is_hidden()


def test_iframe_mode_posts_the_result_to_the_partner_origin(stack: Stack, page: Any) -> None:
    psid = stack.start_flow(page, mode="iframe")
    frame = page.wait_for_selector("#facematch").content_frame()
    assert frame is not None
    take_selfie(frame)
    frame.locator("#screen-status").wait_for(state="visible")
    frame.click("#btn-done")
    message = wait_for(lambda: page.evaluate("window.lastFacematchMessage || null"), timeout=30)
    assert message["origin"] == stack.facematch_url
    assert message["data"] == {
        "source": "facematch",
        "type": "FACEMATCH_RESULT",
        "status": "COMPLETED",
        "partner_session_id": psid,
    }
    page.wait_for_url(stack.demo_url + "/result/success*")
    assert stack.partner_view(psid)["details"]["data"]["result"] == "VALID"


def _frame_the_app(stack: Stack, page: Any, parent_origin: str) -> tuple[Any, Any, list[str]]:
    """Frame the app's page from a document of ``parent_origin``: the frame (once its load is
    over, blocked or not), the server's response to the frame's request, the parent's console."""
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(parent_origin + "/healthz")
    app_url = stack.facematch_url + "/web/index.html"
    with page.expect_response(app_url) as served:
        # set_content returns after the parent's load event, which waits for the iframe's own
        # load, an error page included: no sleeping, and no race with a slow frame
        page.set_content(f"<iframe id='f' src='{app_url}'></iframe>")
    frame = page.wait_for_selector("#f").content_frame()
    assert frame is not None
    return frame, served.value, console


def test_an_unlisted_origin_cannot_frame_the_app(stack: Stack, page: Any) -> None:
    # localhost is another origin than the partner's listed http://127.0.0.1:<port>.
    frame, served, console = _frame_the_app(stack, page, stack.demo_url.replace("127.0.0.1", "localhost"))
    # the server did answer with the page: it is the browser that refused to show it in the frame
    assert served.status == 200 and stack.demo_url in served.headers["content-security-policy"]
    assert frame.url.startswith("chrome-error://")
    # Chromium: "Framing '<app>' violates ... directive: "frame-ancestors ...". The request has been blocked."
    assert any("frame-ancestors" in line and "blocked" in line for line in console), console
    assert frame.query_selector("#main") is None


def test_a_listed_origin_can_frame_the_app(stack: Stack, page: Any) -> None:
    frame, served, console = _frame_the_app(stack, page, stack.demo_url)
    assert served.status == 200
    assert frame.url == stack.facematch_url + "/web/index.html"
    assert frame.query_selector("#main") is not None
    # no launch token: the page's own script ran and answered with its error screen
    frame.locator("#screen-error").wait_for(state="visible")
    assert not any("frame-ancestors" in line for line in console), console


def _without_ancestor_origins(stack: Stack, page: Any) -> list[str]:
    """Serve app.js as a browser without ``location.ancestorOrigins`` (Firefox) would run it."""
    served: list[str] = []

    def rewrite(route: Any) -> None:
        response = route.fetch()
        script = response.text()
        assert script.count("window.location.ancestorOrigins") == 1
        served.append(route.request.url)
        route.fulfill(response=response, body=script.replace("window.location.ancestorOrigins", "undefined"))

    page.route(stack.facematch_url + "/web/static/app.js", rewrite)
    return served


def test_without_ancestor_origins_the_partners_frame_still_runs(stack: Stack, page: Any) -> None:
    served = _without_ancestor_origins(stack, page)
    stack.start_flow(page, mode="iframe")
    frame = page.wait_for_selector("#facematch").content_frame()
    frame.locator("#screen-landing").wait_for(state="visible")  # the referrer names the partner
    assert served and frame.evaluate("new URL(document.referrer).origin") == stack.demo_url


def test_without_ancestor_origins_an_unknown_parent_is_refused(stack: Stack, page: Any) -> None:
    served = _without_ancestor_origins(stack, page)
    held: list[str] = []

    def hold_the_first_load(route: Any) -> None:  # so the launch token stays unused
        if held:
            route.continue_()
        else:
            held.append(route.request.url)
            route.abort()

    page.route(stack.facematch_url + "/web/index.html", hold_the_first_load)
    psid = stack.start_flow(page, mode="iframe")
    page.wait_for_url(stack.demo_url + "/frame/*")
    page.wait_for_load_state("load")
    assert held
    launch_url = stack.partner_view(psid)["launchUrl"]
    # the partner's own origin frames it, but sends no referrer: the parent cannot be told apart
    page.goto(stack.demo_url + "/healthz")
    page.set_content(f"<iframe id='f' referrerpolicy='no-referrer' src='{launch_url}'></iframe>")
    frame = page.wait_for_selector("#f").content_frame()
    frame.locator("#screen-error").wait_for(state="visible")
    assert served and frame.evaluate("document.referrer") == ""
    assert frame.locator("#error-title").inner_text() == "Tautan tidak valid"
    assert frame.locator("#screen-landing").is_hidden() and frame.locator("#btn-error-leave").is_hidden()


def test_dark_mode_in_english(stack: Stack, page: Any) -> None:
    stack.start_flow(page, locale="en_ID", theme="DARK_MODE")
    page.locator("#screen-landing").wait_for(state="visible")
    assert page.locator("#landing-title").inner_text() == "Face verification"
    assert page.evaluate("document.documentElement.lang") == "en"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(16, 19, 23)"
    shot(page, "landing-dark-en", docs=True)
    page.check("#consent")
    page.click("#btn-start")
    page.locator("#btn-shoot:not([disabled])").wait_for()
    assert page.locator("#guidance").inner_text() == "Looks good! Tap “Take photo”"
    shot(page, "capture-dark-en", docs=True)


def test_portrait_only_blocks_a_landscape_phone(stack: Stack, browser: Any) -> None:
    page = new_page(browser, width=740, height=360, phone=True)
    stack.start_flow(page, portrait_only=True)
    page.locator("#rotate").wait_for(state="visible")
    assert page.locator("#rotate-title").inner_text() == "Putar ponsel ke posisi tegak"
    shot(page, "portrait-only-landscape-phone", docs=True)
    page.set_viewport_size({"width": 360, "height": 740})
    page.locator("#rotate").wait_for(state="hidden")
    page.locator("#screen-landing").wait_for(state="visible")
    shot(page, "landing-phone", docs=True)
    page.context.close()


def test_smart_qr_hands_the_flow_to_a_phone(stack: Stack, page: Any, browser: Any) -> None:
    psid = stack.start_flow(page, force_qr=True)
    page.locator("#screen-qr").wait_for(state="visible")
    link = read_qr(page)
    assert link.startswith(stack.facematch_url + "/web/h/") and len(link.rsplit("/", 1)[1]) >= 32
    shot(page, "qr-desktop", docs=True)
    phone = new_page(browser, width=412, height=915, phone=True)
    phone.goto(link)
    phone.locator("#screen-landing").wait_for(state="visible")
    assert "/web/h/" not in phone.url and phone.url.endswith("/web/index.html")
    assert "Toko Demo" in phone.locator("#landing-title ~ .lead").inner_text()  # named before the camera
    wait_for(lambda: "Ponsel terhubung" in page.locator("#qr-state").inner_text(), timeout=30)
    take_selfie(phone)
    phone.locator("#screen-phone-done").wait_for(state="visible")
    shot(phone, "phone-done", docs=True)
    page.locator("#screen-status").wait_for(state="visible")
    shot(page, "status-desktop", docs=True)
    page.click("#btn-done")
    page.wait_for_url(stack.demo_url + "/result/success*")
    assert parse_qs(urlsplit(page.url).query)["status"] == ["COMPLETED"]
    assert stack.partner_view(psid)["details"]["data"]["result"] == "VALID"
    # The link was used: a second open is refused.
    again = phone.context.new_page()
    again.goto(link)
    again.locator("#screen-error").wait_for(state="visible")
    assert again.locator("#error-title").inner_text() == "Tautan sudah tidak berlaku"
    phone.context.close()


def test_an_expired_qr_code_can_be_replaced(stack: Stack, page: Any, browser: Any) -> None:
    from sqlalchemy import update

    from facematch.storage.models import Handoff, utcnow

    stack.start_flow(page, force_qr=True)
    old = read_qr(page)
    with stack.facematch.services.db.session() as session:  # the clock moves on 10 minutes
        session.execute(update(Handoff).where(Handoff.used_at.is_(None)).values(expires_at=utcnow()))
    page.locator("#btn-qr-new").wait_for(state="visible")
    assert "kedaluwarsa" in page.locator("#qr-state").inner_text()
    shot(page, "qr-expired", docs=True)
    phone = new_page(browser, width=412, height=915, phone=True)
    phone.goto(old)
    phone.locator("#screen-error").wait_for(state="visible")
    assert phone.locator("#error-title").inner_text() == "Tautan sudah tidak berlaku"
    page.click("#btn-qr-new")
    new = read_qr(page)
    assert new != old and new.startswith(stack.facematch_url + "/web/h/")
    phone.goto(new)
    phone.locator("#screen-landing").wait_for(state="visible")
    phone.context.close()


def test_a_320px_phone_fits_without_sideways_scrolling(stack: Stack, browser: Any) -> None:
    page = new_page(browser, width=320, height=568, phone=True)
    stack.start_flow(page)
    page.locator("#screen-landing").wait_for(state="visible")
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    page.check("#consent")
    page.click("#btn-start")
    page.locator("#btn-shoot:not([disabled])").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    shot(page, "capture-320px", docs=True)
    page.context.close()


def test_a_lost_connection_can_be_retried(stack: Stack, page: Any) -> None:
    stack.start_flow(page)
    page.locator("#screen-landing").wait_for(state="visible")
    page.check("#consent")
    page.click("#btn-start")
    page.locator("#btn-shoot:not([disabled])").wait_for()
    page.click("#btn-shoot")
    page.context.set_offline(True)
    page.click("#btn-submit")
    page.locator("#screen-error").wait_for(state="visible")
    assert page.locator("#error-title").inner_text() == "Koneksi terputus"
    page.context.set_offline(False)
    page.click("#btn-error-retry")
    page.locator("#screen-status").wait_for(state="visible")
    assert page.locator("#status-title").inner_text() == "Verifikasi selesai"


def test_the_flow_works_from_the_keyboard(stack: Stack, page: Any) -> None:
    stack.start_flow(page)
    page.locator("#screen-landing").wait_for(state="visible")
    assert page.evaluate("document.activeElement.id") == "landing-title"  # focus moves to each screen
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "consent"
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "btn-start"
    page.keyboard.press("Enter")
    page.locator("#btn-shoot:not([disabled])").wait_for()
    assert page.evaluate("document.activeElement.id") == "capture-title"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "btn-shoot"
    page.keyboard.press("Enter")
    page.locator("#screen-review").wait_for(state="visible")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "btn-submit"
