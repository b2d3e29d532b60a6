"""Debian Chromium for the e2e tests and the web bench: how it is launched, and the user's steps.

Playwright drives ``/usr/bin/chromium`` (``make test`` installs it with apt; Playwright's own browser
download is never used). A fake camera plays a YUV4MPEG2 clip (see ``clips.py``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from imagekit import decode_qr

CHROMIUM = Path("/usr/bin/chromium")
BASE_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: Browser-side waits: generous for a loaded 2-core machine, still far below pytest's timeout.
STEP_MS = 30_000


def launch_chromium(playwright: Any, clip: Path | None, *, deny_camera: bool = False) -> Any:
    """Chromium whose camera plays ``clip`` (None: no camera at all); ``deny_camera``: the browser
    refuses every permission prompt, as when a user taps "Block"."""
    args = list(BASE_ARGS)
    if clip is not None:
        args += ["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={clip}"]
    args.append("--deny-permission-prompts" if deny_camera else "--use-fake-ui-for-media-stream")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=args, headless=True)


def new_page(
    browser: Any, *, width: int = 1280, height: int = 900, phone: bool = False, locale: str = "id-ID"
) -> Any:
    """A page in a fresh context; ``phone``: a touch device whose screen is the viewport;
    ``locale``: the browser's language."""
    options: dict[str, Any] = {"viewport": {"width": width, "height": height}, "locale": locale}
    if phone:
        options |= {"screen": {"width": width, "height": height}, "is_mobile": True, "has_touch": True}
        options["device_scale_factor"] = 2
    context = browser.new_context(**options)
    context.set_default_timeout(STEP_MS)
    return context.new_page()


def take_selfie(frame: Any) -> float:
    """Landing → consent → camera → wait for guidance → photo → send; returns when it was sent."""
    frame.locator("#screen-landing").wait_for(state="visible")
    frame.check("#consent")
    frame.click("#btn-start")
    frame.locator("#btn-shoot:not([disabled])").wait_for()
    frame.click("#btn-shoot")
    frame.locator("#screen-review").wait_for(state="visible")
    sent = time.monotonic()
    frame.click("#btn-submit")
    return sent


def read_qr(page: Any, *, other_than: str = "") -> str:
    """The link in the QR on the desktop's screen, read from screenshots of it until one decodes
    (``other_than``: a code shown before, which a new one replaces)."""
    page.locator("#qr-img").wait_for(state="visible")
    # (wait_for_function would need eval, which the page's CSP rightly forbids)
    deadline = time.monotonic() + STEP_MS / 1000
    while True:
        if page.evaluate("document.getElementById('qr-img').complete"):
            text = decode_qr(page.locator("#qr-img").screenshot())
            if text and text != other_than:
                return text
        if time.monotonic() > deadline:
            raise AssertionError("no QR code could be read on the screen")
        time.sleep(0.1)


#: Where the visible screen's primary button and the camera preview sit, in CSS pixels, at scroll 0.
_LAYOUT = """() => {
  window.scrollTo(0, 0);
  const screen = [...document.querySelectorAll('.screen')].find((el) => !el.hidden);
  const buttons = screen ? [...screen.querySelectorAll('button.primary, .actions button')] : [];
  const button = buttons.find((b) => !b.hidden);
  const box = (el) => {
    if (!el) return null;
    const r = el.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, height: r.height, width: r.width};
  };
  return {screen: screen && screen.id, height: window.innerHeight, width: window.innerWidth,
          button: button && button.id, buttonBox: box(button),
          video: box(screen && screen.querySelector('.viewport')),
          scrollWidth: document.documentElement.scrollWidth};
}"""


def layout(page: Any) -> dict[str, Any]:
    """The visible screen, its first action button's box and the camera's box (scrolled to the top)."""
    found: dict[str, Any] = page.evaluate(_LAYOUT)
    return found


def assert_action_visible(page: Any) -> dict[str, Any]:
    """The screen's primary action is on screen without scrolling, and nothing overflows sideways."""
    found = layout(page)
    box = found["buttonBox"]
    assert box is not None, found
    assert box["top"] >= 0 and box["bottom"] <= found["height"] + 0.5, found
    assert found["scrollWidth"] <= found["width"], found
    return found


def hide_tab(page: Any, hidden: bool) -> None:
    """Tell the page its tab was hidden or shown. Headless Chromium keeps every tab visible, so the
    page's visibility is set and its ``visibilitychange`` fired the way a browser does."""
    page.evaluate(
        """(hidden) => {
          Object.defineProperty(document, 'hidden', {get: () => hidden, configurable: true});
          const state = hidden ? 'hidden' : 'visible';
          Object.defineProperty(document, 'visibilityState', {get: () => state, configurable: true});
          document.dispatchEvent(new Event('visibilitychange'));
        }""",
        hidden,
    )


class PreviewMeter:
    """Counts the preview frames a page uploads (requests and body bytes) from the moment it is made.

    The requests pass through Playwright's interception, which sees every body (the network events
    alone leave out Blob bodies). Playwright hands events over while the test waits through it:
    wait with ``page.wait_for_timeout``, not ``time.sleep``, so each frame is counted as it leaves."""

    def __init__(self, page: Any) -> None:
        self.sent: list[tuple[float, int]] = []
        page.route("**/web/api/preview", self._leaving)

    def _leaving(self, route: Any) -> None:
        if route.request.method == "POST":
            self.sent.append((time.monotonic(), len(route.request.post_data_buffer or b"")))
        route.continue_()

    def since(self, moment: float) -> list[int]:
        return [size for at, size in self.sent if at >= moment]
