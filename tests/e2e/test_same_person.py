"""Same person as the reference: redirect and iframe callbacks, themes, portrait lock, Smart QR."""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from servicekit import wait_for

from .browser import assert_action_visible, new_page, read_qr, take_selfie
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
    # on a desktop the button sits centred under the centred text
    text, button = (page.locator(s).bounding_box() for s in ("#status-text", "#btn-done"))
    assert abs((text["x"] + text["width"] / 2) - (button["x"] + button["width"] / 2)) < 2
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
    # the partner's page takes over; until it does, the frame says so (no dead button)
    frame.locator("#screen-sent").wait_for(state="visible")
    assert frame.locator("#sent-title").inner_text() == "Selesai"
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
    # the partner frames the finished flow again: the frame reports the same final status
    page.goto(f"{stack.demo_url}/frame/{psid}")
    again = page.wait_for_selector("#facematch").content_frame()
    assert again is not None
    again.locator("#screen-status").wait_for(state="visible")
    again.click("#btn-done")
    message = wait_for(lambda: page.evaluate("window.lastFacematchMessage || null"), timeout=30)
    assert message["data"]["status"] == "COMPLETED" and message["data"]["partner_session_id"] == psid


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
    privacy = "https://toko.example/privacy"
    set_partner(stack.facematch, stack.partner_id, privacy_url=privacy, auto_capture=False)
    try:
        stack.start_flow(page, locale="en_ID", theme="DARK_MODE")
        page.locator("#screen-landing").wait_for(state="visible")
    finally:
        set_partner(stack.facematch, stack.partner_id, privacy_url=None, auto_capture=True)
    assert page.locator("#landing-title").inner_text() == "Face verification"
    notice = page.locator(".privacy").inner_text()
    assert "Toko Demo processes your selfie only to match it" in notice and "UU No. 27/2022" in notice
    assert "kept for at most 30 days, then deleted" in notice
    link = page.locator("#privacy-link")
    assert link.get_attribute("href") == privacy
    assert link.inner_text() == "Toko Demo's privacy policy (opens a new tab)"
    assert page.evaluate("document.documentElement.lang") == "en"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(16, 19, 23)"
    shot(page, "landing-dark-en", docs=True)
    assert page.locator("#btn-start").is_disabled()  # consent stays required
    page.check("#consent")
    page.click("#btn-start")
    page.locator("#btn-shoot:not([disabled])").wait_for()
    assert page.locator("#guidance").inner_text() == "Looks good! Tap “Take photo”"  # auto-capture off
    shot(page, "capture-dark-en", docs=True)
    icon = "fetch('/favicon.ico').then(r => r.status + ' ' + r.headers.get('content-type'))"
    assert page.evaluate(icon) == "200 image/x-icon"


def test_portrait_only_blocks_a_landscape_phone(stack: Stack, browser: Any) -> None:
    page = new_page(browser, width=740, height=360, phone=True)
    stack.start_flow(page, portrait_only=True)
    page.locator("#rotate").wait_for(state="visible")
    assert page.locator("#rotate-title").inner_text() == "Putar ponsel ke posisi tegak"
    shot(page, "portrait-only-landscape-phone", docs=True)
    page.set_viewport_size({"width": 360, "height": 740})
    page.locator("#rotate").wait_for(state="hidden")
    page.locator("#screen-landing").wait_for(state="visible")
    assert page.locator("#btn-phone").is_hidden()  # "continue on my phone" is for desktops
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

    stack.start_flow(page, force_qr=True, locale="en_ID")
    old = read_qr(page)
    expiry = page.locator("#qr-expiry").inner_text()
    assert re.fullmatch(r"Code valid until \d\d:\d\d", expiry), expiry  # 24-hour time, no AM/PM
    with stack.facematch.services.db.session() as session:  # the clock moves on 10 minutes
        session.execute(update(Handoff).where(Handoff.used_at.is_(None)).values(expires_at=utcnow()))
    page.locator("#btn-qr-new").wait_for(state="visible")
    assert "expired" in page.locator("#qr-state").inner_text()
    assert page.locator("#qr-link-box").is_hidden()  # no dead link to copy either
    shot(page, "qr-expired", docs=True)
    phone = new_page(browser, width=412, height=915, phone=True)  # an Indonesian phone
    phone.goto(old)
    phone.locator("#screen-error").wait_for(state="visible")
    # before any session: the flow's language, and a clear final message (the phone has no way back)
    assert phone.locator("#error-title").inner_text() == "This link no longer works"
    assert "You can close this page" in phone.locator("#error-text").inner_text()
    page.click("#btn-qr-new")
    new = read_qr(page, other_than=old)
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
    shot(page, "capture-320x568")
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


def test_back_and_reopening_report_the_final_status(stack: Stack, page: Any) -> None:
    psid = stack.start_flow(page)
    launch_url = stack.partner_view(psid)["launchUrl"]
    take_selfie(page)
    page.locator("#screen-status").wait_for(state="visible")
    page.reload()  # a reload on the final screen shows the final screen again
    page.locator("#screen-status").wait_for(state="visible")
    page.click("#btn-done")
    completed = {"status": ["COMPLETED"], "partner_session_id": [psid]}
    page.wait_for_url(stack.demo_url + "/result/success*")
    # Back from the partner's page into the finished flow: its status screen; Back again says COMPLETED
    page.go_back()
    page.locator("#screen-status").wait_for(state="visible")
    assert page.locator("#status-title").inner_text() == "Verifikasi selesai"
    page.go_back()
    page.wait_for_url(stack.demo_url + "/result/success*")
    assert parse_qs(urlsplit(page.url).query) == completed
    # the launch URL opened again in the same tab: the same truth
    page.goto(launch_url)
    page.locator("#screen-status").wait_for(state="visible")
    page.go_back()
    page.wait_for_url(stack.demo_url + "/result/success*")
    assert parse_qs(urlsplit(page.url).query) == completed
    view = wait_for(lambda: (v := stack.partner_view(psid))["webhooks"] and v, timeout=30, interval=0.25)
    assert len(view["webhooks"]) == 1 and view["details"]["data"]["result"] == "VALID"
    assert all(landed["status"] == "COMPLETED" for landed in view["frontEndCallbacks"])


def test_auto_capture_counts_down_and_takes_the_photo(stack: Stack, page: Any) -> None:
    stack.start_flow(page)
    page.locator("#screen-landing").wait_for(state="visible")
    page.check("#consent")
    page.click("#btn-start")
    page.locator("#countdown:not([hidden])").wait_for()
    assert page.locator("#countdown").inner_text() in ("3", "2")
    said = page.locator("#countdown-say")
    assert (
        said.inner_text().startswith("Foto diambil dalam") and said.get_attribute("aria-live") == "assertive"
    )
    shot(page, "capture-countdown", docs=True)
    page.locator("#screen-review").wait_for(state="visible")  # nobody tapped the button
    assert page.locator("#review-img").get_attribute("src")


def test_auto_capture_can_be_turned_off(stack: Stack, page: Any) -> None:
    set_partner(stack.facematch, stack.partner_id, auto_capture=False)
    try:
        stack.start_flow(page)
        page.locator("#screen-landing").wait_for(state="visible")
    finally:
        set_partner(stack.facematch, stack.partner_id, auto_capture=True)
    page.check("#consent")
    page.click("#btn-start")
    page.locator("#btn-shoot:not([disabled])").wait_for()
    time.sleep(5)  # longer than the hold and the countdown together
    assert page.locator("#screen-capture").is_visible() and page.locator("#countdown").is_hidden()
    assert page.locator("#guidance").inner_text() == "Sudah pas! Ketuk “Ambil foto”"


SCREENS_WITH_ACTIONS = ("landing", "permission", "capture", "review", "retry", "status", "qr", "error")
#: Shows one screen as the app would, its texts filled with a long sample and all its buttons shown.
SHOW_SCREEN = """(name) => {
  const sample = 'Teks contoh yang cukup panjang untuk dua baris di layar kecil.';
  document.querySelectorAll('.screen').forEach((el) => { el.hidden = el.id !== 'screen-' + name; });
  const screen = document.getElementById('screen-' + name);
  screen.querySelectorAll('h1:empty, p:empty').forEach((el) => { el.textContent = sample; });
  screen.querySelectorAll('.actions button').forEach((button) => { button.hidden = false; });
}"""


@pytest.mark.parametrize(("width", "height"), [(360, 560), (320, 480)])
def test_small_phones_show_every_primary_action(stack: Stack, browser: Any, width: int, height: int) -> None:
    page = new_page(browser, width=width, height=height, phone=True)
    stack.start_flow(page)
    page.locator("#screen-landing").wait_for(state="visible")
    assert assert_action_visible(page)["button"] == "btn-start"
    page.check("#consent")
    page.click("#btn-start")
    page.locator("#btn-shoot:not([disabled])").wait_for()
    seen = assert_action_visible(page)
    assert seen["button"] == "btn-shoot" and seen["video"]["height"] >= 200, seen
    assert abs(seen["video"]["width"] / seen["video"]["height"] - 0.75) < 0.01  # the oval's 3:4 crop
    if width == 320:
        shot(page, "capture-320px", docs=True)
    page.locator("#screen-review").wait_for(state="visible")  # auto-capture
    assert assert_action_visible(page)["button"] == "btn-submit"
    page.click("#btn-submit")
    page.locator("#screen-status").wait_for(state="visible")
    assert assert_action_visible(page)["button"] == "btn-done"
    if width == 360:
        shot(page, "status-360x560", docs=True)
    for name in SCREENS_WITH_ACTIONS:  # every other screen with an action, laid out the same way
        page.evaluate(SHOW_SCREEN, name)
        found = assert_action_visible(page)
        assert found["screen"] == "screen-" + name
        if name == "capture":
            assert found["video"]["height"] >= 200, found
    page.context.close()


def test_a_landscape_tablet_keeps_camera_and_button_in_view(stack: Stack, browser: Any) -> None:
    page = new_page(browser, width=1024, height=600, phone=True)  # touch, short side ≥ 600 px: a tablet
    stack.start_flow(page)
    page.locator("#screen-landing").wait_for(state="visible")
    assert page.locator("#rotate").is_hidden()
    assert_action_visible(page)
    page.check("#consent")
    page.click("#btn-start")
    page.locator("#btn-shoot:not([disabled])").wait_for()
    seen = assert_action_visible(page)
    assert seen["video"]["height"] >= 200, seen
    shot(page, "capture-tablet-landscape", docs=True)
    page.context.close()


def test_a_desktop_can_continue_on_the_phone(stack: Stack, page: Any, browser: Any) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.facematch_url)
    psid = stack.start_flow(page, allow_qr=True)
    page.locator("#screen-landing").wait_for(state="visible")
    page.click("#btn-phone")  # a secondary action: this desktop has a camera
    page.locator("#screen-qr").wait_for(state="visible")
    first = read_qr(page)
    assert page.locator("#qr-link").input_value() == first
    assert re.fullmatch(r"Kode berlaku sampai pukul \d\d\.\d\d", page.locator("#qr-expiry").inner_text())
    page.click("#btn-copy")
    page.locator("#qr-copied:not(:empty)").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == first
    assert "hanya bisa dipakai sekali" in page.locator("#qr-copied").inner_text()
    shot(page, "qr-link-desktop", docs=True)
    page.click("#btn-qr-back")  # changed their mind: the code is withdrawn
    page.locator("#screen-landing").wait_for(state="visible")
    phone = new_page(browser, width=412, height=915, phone=True)
    phone.goto(first)
    phone.locator("#screen-error").wait_for(state="visible")
    assert phone.locator("#error-title").inner_text() == "Tautan sudah tidak berlaku"
    page.click("#btn-phone")
    second = read_qr(page, other_than=first)
    assert second != first and page.locator("#qr-link").input_value() == second
    phone.goto(second)  # the link works exactly like the QR: once
    phone.locator("#screen-landing").wait_for(state="visible")
    wait_for(lambda: "Ponsel terhubung" in page.locator("#qr-state").inner_text(), timeout=30)
    assert page.locator("#qr-link-box").is_hidden() and page.locator("#btn-qr-back").is_hidden()
    take_selfie(phone)
    page.locator("#screen-status").wait_for(state="visible")
    assert stack.partner_view(psid)["details"]["data"]["result"] == "VALID"
    phone.context.close()


def test_screens_before_a_session_speak_the_users_language(stack: Stack, browser: Any) -> None:
    from facematch.security.tokens import TokenKind

    english = new_page(browser, locale="en-US")
    english.goto(stack.demo_url + "/")
    english.goto(stack.facematch_url + "/web/index.html#/launch-v1?token=not-a-token")
    english.locator("#screen-error").wait_for(state="visible")
    assert english.locator("#error-title").inner_text() == "Invalid link"
    assert english.evaluate("document.documentElement.lang") == "en"
    english.click("#btn-error-back")  # the partner is unknown: the browser's own way back
    english.wait_for_url(stack.demo_url + "/")
    english.context.close()
    page = new_page(browser)  # an Indonesian browser, a flow in English whose link has expired
    psid = stack.start_flow(page, locale="en_ID")
    page.locator("#screen-landing").wait_for(state="visible")
    launch = stack.partner_view(psid)["launchUrl"].split("token=", 1)[1]
    tokens = stack.facematch.services.tokens
    claims = tokens.verify(launch, TokenKind.LAUNCH)
    expired = tokens.issue(TokenKind.LAUNCH, claims["sub"], -60, sid=claims["sid"], loc="en_ID").token
    page.evaluate("sessionStorage.clear()")
    page.goto(stack.demo_url + "/")
    # while the link is checked, the loading screen already speaks the flow's language
    held: list[Any] = []
    page.route("**/web/api/session", lambda route: held.append(route))
    page.goto(stack.facematch_url + "/web/index.html#/launch-v1?token=" + expired)
    for _ in range(600):  # Playwright calls the route handler while it is called itself
        if held:
            break
        page.wait_for_timeout(50)
    assert held and page.locator("#screen-loading").is_visible()
    assert page.locator("#screen-loading p").inner_text() == "Getting your verification ready…"
    assert page.evaluate("document.documentElement.lang") == "en"
    held[0].continue_()
    page.unroute("**/web/api/session")
    page.locator("#screen-error").wait_for(state="visible")
    assert page.locator("#error-title").inner_text() == "Session ended"
    assert page.locator("#btn-error-leave").inner_text() == "Back to Toko Demo"
    shot(page, "error-expired-link-en", docs=True)
    page.click("#btn-error-leave")
    page.wait_for_url(stack.demo_url + "/result/failure*")
    assert parse_qs(urlsplit(page.url).query) == {
        "status": ["ERROR"],
        "partner_session_id": [psid],
        "error_code": ["SESSION_TIMEOUT"],
    }
    page.context.close()


def test_the_api_docs_show_the_readme_examples(stack: Stack, page: Any) -> None:
    page.goto(stack.facematch_url + "/docs")  # Swagger UI from facematch's own files: no CDN
    operation = page.locator("#operations-partner-initiate_flow")
    operation.click()
    operation.locator(".microlight").first.wait_for()
    shown = operation.inner_text()
    assert "https://partner.example/done" in shown and "launchUrl" in shown
