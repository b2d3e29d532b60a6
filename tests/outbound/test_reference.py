"""Fetching the partner's reference image: accepted bodies, refusals, retries, error kinds."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from facematch.errors import (
    ReferenceConnectionError,
    ReferenceFetchError,
    ReferenceNotAllowedError,
    ReferenceNotAnImageError,
    ReferenceStatusError,
    ReferenceTimeoutError,
    ReferenceTooLargeError,
)
from facematch.outbound.reference import fetch_reference_image
from facematch.outbound.safe_http import FetchPolicy
from facematch.outbound.urls import UrlPolicy

#: plain http and loopback allowed, as on a developer's machine
LOCAL_URLS = UrlPolicy(allow_http=True, allow_loopback=True)

LOCAL = FetchPolicy(allowed_hosts=("127.0.0.1",), urls=LOCAL_URLS)
PARTNER_HEADERS = {
    "x-api-key": "partner-static-key",
    "x-partner-session-id": "session-42",
    "x-partner-user-id": "user-7",
    "x-partner-user-id-type": "PHONE",
}


class Sleeps(list[float]):
    """An injected ``sleep`` that records its delays and never waits."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def jpeg(faces_dir: Path) -> bytes:
    return (faces_dir / "images" / "obama.jpg").read_bytes()


@pytest.fixture
def png(faces_dir: Path) -> bytes:
    return (faces_dir / "images" / "lacamoire.png").read_bytes()


def small_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 120, 40)).save(out, format="PNG")
    return out.getvalue()


def fetch(url: str, sleeps: Sleeps | None = None, **kwargs) -> bytes:
    return fetch_reference_image(
        url,
        headers=PARTNER_HEADERS,
        policy=kwargs.pop("policy", LOCAL),
        sleep=sleeps if sleeps is not None else Sleeps(),
        **kwargs,
    )


# --- accepted bodies --------------------------------------------------------------------------


def test_image_body_is_returned_and_partner_headers_are_sent(server, jpeg: bytes) -> None:
    url = server.route("/ref/1", lambda h: h.reply(200, jpeg, {"Content-Type": "image/jpeg"}))
    assert fetch(url) == jpeg
    sent = server.requests[0].headers
    for name, value in PARTNER_HEADERS.items():
        assert sent[name] == value


def test_png_with_charset_noise_in_content_type(server, png: bytes) -> None:
    url = server.route("/ref", lambda h: h.reply(200, png, {"Content-Type": "Image/PNG; name=x.png"}))
    assert fetch(url) == png


@pytest.mark.parametrize(
    "wrap",
    [
        lambda b64: b64,
        lambda b64: "data:image/png;base64," + b64,
        lambda b64: "data:image/png;charset=binary;base64," + b64,
        lambda b64: "\n".join(b64[i : i + 76] for i in range(0, len(b64), 76)),
        lambda b64: b64.rstrip("="),
        lambda b64: b64.replace("+", "-").replace("/", "_"),
    ],
    ids=["plain", "data-url", "data-url-params", "line-wrapped", "unpadded", "urlsafe"],
)
def test_json_base64_image_is_decoded(server, wrap) -> None:
    image = small_png()
    body = json.dumps({"image": wrap(base64.b64encode(image).decode()), "other": 1}).encode()
    url = server.route(
        "/ref", lambda h: h.reply(200, body, {"Content-Type": "application/json; charset=utf-8"})
    )
    assert fetch(url) == image


def test_json_with_a_real_jpeg(server, jpeg: bytes) -> None:
    body = json.dumps({"image": base64.b64encode(jpeg).decode()}).encode()
    url = server.route("/ref", lambda h: h.reply(200, body, {"Content-Type": "application/json"}))
    assert fetch(url) == jpeg


# --- refused bodies ---------------------------------------------------------------------------

NOT_IMAGES = [
    ("image/jpeg", b"<html><body>Login required</body></html>"),
    ("image/png", b""),
    ("text/html", None),  # a real image, but declared as HTML
    ("application/octet-stream", None),
    ("", None),
    ("application/json", b'{"image": "PGh0bWw+PC9odG1sPg=="}'),  # base64 of "<html></html>"
    ("application/json", b'{"image": "!!! not base64 !!!"}'),
    ("application/json", b'{"image": 12}'),
    ("application/json", b'{"picture": "abc"}'),
    ("application/json", b'["image"]'),
    ("application/json", b"{not json"),
    ("application/json", b"[" * 100_000),
]


@pytest.mark.parametrize(("content_type", "body"), NOT_IMAGES)
def test_anything_else_is_not_an_image(server, jpeg: bytes, content_type: str, body: bytes | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    url = server.route("/ref", lambda h: h.reply(200, jpeg if body is None else body, headers))
    sleeps = Sleeps()
    with pytest.raises(ReferenceNotAnImageError) as info:
        fetch(url, sleeps)
    assert info.value.kind == "NOT_AN_IMAGE"
    assert (server.calls("/ref"), sleeps) == (1, [])


def test_the_partner_body_never_reaches_the_error(server) -> None:
    secret = b"internal stack trace: db password hunter2"
    url = server.route("/ref", lambda h: h.reply(500, secret, {"Content-Type": "text/plain"}))
    with pytest.raises(ReferenceFetchError) as info:
        fetch(url, retries=0)
    assert "hunter2" not in str(info.value)
    assert "hunter2" not in repr(info.value.__dict__)


# --- retries ----------------------------------------------------------------------------------


def sequence(*steps):
    """A route answering each call with the next (status, body, headers) step; the last repeats."""
    calls = iter(range(10_000))

    def handler(h) -> None:
        status, body, headers = steps[min(next(calls), len(steps) - 1)]
        h.reply(status, body, headers)

    return handler


def test_5xx_5xx_200_succeeds_after_three_calls(server, jpeg: bytes) -> None:
    url = server.route(
        "/ref", sequence((500, b"", {}), (503, b"", {}), (200, jpeg, {"Content-Type": "image/jpeg"}))
    )
    sleeps = Sleeps()
    assert fetch(url, sleeps) == jpeg
    assert server.calls("/ref") == 3
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0
    assert 1.0 <= sleeps[1] <= 2.0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 429])
def test_4xx_is_not_retried(server, status: int) -> None:
    url = server.route("/ref", lambda h: h.reply(status, b"nope"))
    sleeps = Sleeps()
    with pytest.raises(ReferenceStatusError) as info:
        fetch(url, sleeps)
    assert (info.value.kind, info.value.status) == ("HTTP_STATUS", status)
    assert (server.calls("/ref"), sleeps) == (1, [])


def test_persistent_5xx_gives_up_after_the_retries(server) -> None:
    url = server.route("/ref", lambda h: h.reply(502, b"bad gateway"))
    sleeps = Sleeps()
    with pytest.raises(ReferenceStatusError) as info:
        fetch(url, sleeps)
    assert (info.value.kind, info.value.status) == ("HTTP_STATUS", 502)
    assert server.calls("/ref") == 4
    assert len(sleeps) == 3
    assert sleeps == sorted(sleeps)  # exponential, jitter cannot reorder the bands
    assert 2.0 <= sleeps[2] <= 4.0


def test_retries_zero_means_one_attempt(server) -> None:
    url = server.route("/ref", lambda h: h.reply(500))
    with pytest.raises(ReferenceStatusError):
        fetch(url, retries=0)
    assert server.calls("/ref") == 1


def test_timeouts_are_retried_then_reported(server) -> None:
    url = server.route("/ref", lambda h: h.server.local.stop.wait(3))
    policy = FetchPolicy(
        allowed_hosts=None,
        urls=LOCAL_URLS,
        connect_timeout=0.3,
        total_timeout=0.3,
    )
    sleeps = Sleeps()
    with pytest.raises(ReferenceTimeoutError) as info:
        fetch(url, sleeps, policy=policy, retries=1)
    assert info.value.kind == "TIMEOUT"
    assert server.calls("/ref") == 2
    assert len(sleeps) == 1


def test_connection_failures_are_retried_then_reported(closed_port: int) -> None:
    sleeps = Sleeps()
    with pytest.raises(ReferenceConnectionError) as info:
        fetch(f"http://127.0.0.1:{closed_port}/ref", sleeps)
    assert info.value.kind == "CONNECTION"
    assert len(sleeps) == 3


def test_connection_error_then_success(server, jpeg: bytes) -> None:
    # The first answer is not HTTP at all; the second is the image.
    calls = iter(range(10))

    def flaky(h) -> None:
        if next(calls) == 0:
            h.wfile.write(b"garbage\r\n\r\n")
            return
        h.reply(200, jpeg, {"Content-Type": "image/jpeg"})

    url = server.route("/ref", flaky)
    sleeps = Sleeps()
    assert fetch(url, sleeps) == jpeg
    assert len(sleeps) == 1


# --- policy refusals are final ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/ref",
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
        "http://other.example/ref",
        "http://2130706433/ref",
    ],
)
def test_not_allowed_is_final(url: str) -> None:
    sleeps = Sleeps()
    with pytest.raises(ReferenceNotAllowedError) as info:
        fetch(url, sleeps, resolver=lambda h, p: ["127.0.0.1"])
    assert info.value.kind == "NOT_ALLOWED"
    assert sleeps == []


def test_https_is_required_by_default() -> None:
    policy = FetchPolicy(allowed_hosts=("127.0.0.1",), urls=UrlPolicy(allow_loopback=True))
    with pytest.raises(ReferenceNotAllowedError):
        fetch("http://127.0.0.1:9/ref", policy=policy)


def test_redirect_is_an_http_status_and_not_followed(server, jpeg: bytes) -> None:
    server.route("/real", lambda h: h.reply(200, jpeg, {"Content-Type": "image/jpeg"}))
    url = server.route("/ref", lambda h: h.reply(302, b"", {"Location": server.url("/real")}))
    sleeps = Sleeps()
    with pytest.raises(ReferenceStatusError) as info:
        fetch(url, sleeps)
    assert info.value.status == 302
    assert (server.calls("/real"), sleeps) == (0, [])


def test_too_large_is_final(server) -> None:
    policy = FetchPolicy(allowed_hosts=None, urls=LOCAL_URLS, max_bytes=1000)
    url = server.route(
        "/ref", lambda h: h.reply(200, b"\xff\xd8\xff" + bytes(5000), {"Content-Type": "image/jpeg"})
    )
    sleeps = Sleeps()
    with pytest.raises(ReferenceTooLargeError) as info:
        fetch(url, sleeps, policy=policy)
    assert info.value.kind == "TOO_LARGE"
    assert sleeps == []


def test_every_failure_kind_is_distinct_and_stable() -> None:
    kinds = {
        cls.kind
        for cls in (
            ReferenceNotAllowedError,
            ReferenceTimeoutError,
            ReferenceConnectionError,
            ReferenceTooLargeError,
            ReferenceStatusError,
            ReferenceNotAnImageError,
        )
    }
    assert kinds == {"NOT_ALLOWED", "TIMEOUT", "CONNECTION", "TOO_LARGE", "HTTP_STATUS", "NOT_AN_IMAGE"}


def test_negative_retries_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        fetch("https://partner.example/ref", retries=-1)
