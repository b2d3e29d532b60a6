"""Rendering the console: Jinja2 templates from the package (autoescaped), the security headers of
every ``/console`` answer, the origin check of state changes, and error pages.

Headers: a strict CSP (``default-src 'none'``, scripts, styles and images from this origin only, forms
post only here, ``frame-ancestors 'none'``), ``Referrer-Policy: no-referrer``,
``Cache-Control: no-store`` (pages and images stay out of every cache), ``X-Frame-Options: DENY``.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

from facematch.flows.console import zones
from facematch.flows.console.images import ImageGrant
from facematch.flows.console.operators import ConsoleUser, Permission
from facematch.rules import review_band

PREFIX = "/console"
UrlId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
"""An id in a console URL (anything else is refused before it reaches a query)."""
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


@pass_context
def _datetime(context: Context, value: datetime | str | None) -> str:
    """A stored time (or an ISO 8601 one, as the partner views carry) in the operator's zone, the
    zone named (``2025-01-02 10:04:05 WIB``)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    return zones.show(value, context["zone"])


@pass_context
def _clock(context: Context, value: datetime | None) -> str:
    """``10:04 WIB``."""
    return zones.clock(value, context["zone"]) if value else "–"


def _iso(value: datetime | None) -> str:
    """The instant for scripts and ``<time datetime>`` (UTC, ISO 8601)."""
    return zones.iso_utc(value)


def _age(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "–"
    seconds = max(0, int(((now or datetime.now(value.tzinfo)) - value).total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("facematch.web", "console/templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(datetime=_datetime, clock=_clock, iso=_iso, age=_age, pct=_pct, seconds=_seconds)
    env.globals.update(Permission=Permission, PREFIX=PREFIX, band_label=review_band.label)
    return env


def render(
    request: Request, template: str, *, user: ConsoleUser | None = None, status: int = 200, **context: Any
) -> HTMLResponse:
    zone = user.time_zone if user else "UTC"
    page = (
        environment()
        .get_template(template)
        .render(
            user=user,
            path=request.url.path,
            csrf=user.csrf_token if user else "",
            zone=zone,
            zone_label=zones.label(zone),
            **context,
        )
    )
    return HTMLResponse(page, status_code=status)


def image_urls(submission_id: str, grant: ImageGrant | None) -> dict[str, str]:
    """The console URLs of the images a grant lets this session see."""
    if grant is None:
        return {}
    return {
        doc: f"{PREFIX}/images/{submission_id}/{doc}?{urlencode({'t': token})}"
        for doc, token in grant.tokens.items()
    }


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def login_redirect(request: Request, *, expired: bool) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    flag = "&expired=1" if expired else ""
    return redirect(f"{PREFIX}/login?next={quote(target, safe='')}{flag}")


def password_redirect(request: Request) -> RedirectResponse:
    """To the password change, which brings the operator back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(f"{PREFIX}/account?required=1&next={quote(target, safe='')}")


_LOGIN_PATHS = (PREFIX + "/login", PREFIX + "/enrol", PREFIX + "/logout")


def safe_next(value: str | None) -> str:
    """Where to go after login: a console page only (no open redirect, no login page again)."""
    if value and value.startswith(PREFIX + "/") and not value.startswith("//") and "\\" not in value:
        parts = urlsplit(value)
        if not parts.scheme and not parts.netloc and not parts.path.startswith(_LOGIN_PATHS):
            return value
    return PREFIX + "/dashboard"


def same_origin(request: Request, public_url: str) -> bool:
    """Whether a state change comes from a page of this site.

    ``Origin`` must name this origin. Under ``Referrer-Policy: no-referrer`` browsers send
    ``Origin: null`` for form posts, so then the browser's ``Sec-Fetch-Site`` must say
    ``same-origin``. Clients that send neither header (not browsers) still need the session's
    CSRF token."""
    origin = request.headers.get("origin")
    site = request.headers.get("sec-fetch-site")
    if origin is not None and origin != "null":
        expected, got = urlsplit(public_url), urlsplit(origin)
        return (got.scheme, got.netloc) == (expected.scheme, expected.netloc) and site in (
            None,
            "same-origin",
        )
    if origin == "null":
        return site == "same-origin"
    return site in (None, "same-origin")
