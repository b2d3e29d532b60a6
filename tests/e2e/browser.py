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


def new_page(browser: Any, *, width: int = 1280, height: int = 900, phone: bool = False) -> Any:
    """A page in a fresh context; ``phone``: a touch device whose screen is the viewport."""
    options: dict[str, Any] = {"viewport": {"width": width, "height": height}}
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


def read_qr(page: Any) -> str:
    """The link in the QR on the desktop's screen, read from a screenshot of it."""
    page.locator("#qr-img").wait_for(state="visible")
    # (wait_for_function would need eval, which the page's CSP rightly forbids)
    deadline = time.monotonic() + STEP_MS / 1000
    while not page.evaluate("document.getElementById('qr-img').complete"):
        if time.monotonic() > deadline:
            raise AssertionError("the QR image did not load")
        time.sleep(0.05)
    return decode_qr(page.locator("#qr-img").screenshot())
