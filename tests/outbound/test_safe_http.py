"""The SSRF-safe client: security guide §2's refusal list, pinning, deadlines, caps, redirects."""

from __future__ import annotations

import gzip
import threading
import time
import zlib

import httpcore
import pytest

from facematch.errors import (
    DestinationNotAllowedError,
    FetchConnectionError,
    FetchTimeoutError,
    OutboundRequestError,
    ResponseTooLargeError,
    UpstreamStatusError,
)
from facematch.outbound import pinned, safe_http
from facematch.outbound.safe_http import FetchPolicy, request
from facematch.outbound.urls import UrlPolicy, address_allowed

#: plain http and loopback allowed, as on a developer's machine
LOCAL_URLS = UrlPolicy(allow_http=True, allow_loopback=True)

LOCAL = FetchPolicy(allowed_hosts=None, urls=LOCAL_URLS)
STRICT = FetchPolicy(allowed_hosts=None, urls=UrlPolicy(allow_http=True))
MB = 1024 * 1024


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"resolver must not be asked for {host}")


def hello(handler) -> None:
    handler.reply(200, b"hello", {"Content-Type": "text/plain"})


# --- the happy path on loopback --------------------------------------------------------------


def test_get_on_loopback_when_allowed(server) -> None:
    url = server.route("/hello", hello)
    response = request("GET", url, policy=LOCAL, headers={"x-partner-session-id": "s-1"})
    assert (response.status, response.body, response.content_type) == (200, b"hello", "text/plain")
    seen = server.requests[0]
    assert seen.headers["x-partner-session-id"] == "s-1"
    assert seen.headers["accept-encoding"] == "identity"
    assert seen.headers["host"] == f"127.0.0.1:{server.port}"


def test_post_sends_the_body_unchanged(server) -> None:
    url = server.route("/hook", lambda h: h.reply(204))
    payload = b'{"a": 1, "b": "\xc3\xa9"}'
    response = request(
        "POST", url, policy=LOCAL, content=payload, headers={"content-type": "application/json"}
    )
    assert response.status == 204
    assert server.requests[0].body == payload


def test_non_2xx_statuses_are_returned(server) -> None:
    url = server.route("/boom", lambda h: h.reply(503, b"down", {"Retry-After": "7"}))
    response = request("GET", url, policy=LOCAL)
    assert (response.status, response.headers["retry-after"]) == (503, "7")


def test_read_body_false_skips_the_body(server) -> None:
    url = server.route("/big", lambda h: h.reply(200, b"x" * 100_000))
    response = request("POST", url, policy=LOCAL, read_body=False)
    assert (response.status, response.body) == (200, b"")


# --- security guide §2: must refuse -----------------------------------------------------------

MUST_REFUSE = [
    "https://127.0.0.1/",
    "https://localhost/",
    "https://[::1]/",
    "https://0/",
    "https://127.1/",
    "https://2130706433/",
    "https://0x7f000001/",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.100.100.200/",
    "https://10.0.0.1/",
    "https://10.255.255.254:8443/",
    "https://172.16.0.1/",
    "https://172.31.255.1/",
    "https://192.168.1.1/",
    "https://[::ffff:10.0.0.1]/",
    "https://[2002:a00:1::]/",
    "file:///etc/passwd",
    "gopher://example.com:70/_GET",
    "ftp://example.com/x.jpg",
    "https://good@127.0.0.1/",
    "https://good:pw@example.com/",
    # neighbours of the list
    "https://0.0.0.0/",
    "https://0177.0.0.1/",
    "https://127.000.000.001/",
    "https://0x7f.1/",
    "https://127.0.0.1./",
    "https://127%2e0.0.1/",
    "https://100.64.0.1/",
    "https://198.18.0.1/",
    "https://198.19.255.1/",
    "https://224.0.0.1/",
    "https://240.0.0.1/",
    "https://255.255.255.255/",
    "https://[::]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:7f00:1]/",
    "https://[::127.0.0.1]/",
    "https://[64:ff9b::a00:1]/",
    "https://[64:ff9b::808:808]/",
    "https://[2001::1]/",
    "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    "https://[fe80::1]/",
    "https://[fe80::1%25eth0]/",
    "https://[fc00::1]/",
    "https://[fd12:3456::1]/",
    "https://[ff02::1]/",
    "https://example.com\\@127.0.0.1/",
    "https://example.com\t/",
    "javascript:alert(1)",
    "https:///nohost",
]


@pytest.mark.parametrize("url", MUST_REFUSE)
def test_must_refuse(url: str) -> None:
    resolver = (lambda host, port: ["127.0.0.1", "::1"]) if "localhost" in url else no_dns
    with pytest.raises(DestinationNotAllowedError):
        request("GET", url, policy=FetchPolicy(allowed_hosts=None), resolver=resolver)


#: Plain loopback: allowed with ``allow_loopback``; every other entry must stay refused.
LOOPBACK = {"https://127.0.0.1/", "https://localhost/", "https://[::1]/", "https://127.0.0.1./"}


@pytest.mark.parametrize("url", [u for u in MUST_REFUSE if u not in LOOPBACK])
def test_everything_but_plain_loopback_refused_even_with_allow_loopback(url: str) -> None:
    policy = FetchPolicy(allowed_hosts=None, urls=UrlPolicy(allow_loopback=True))
    with pytest.raises(DestinationNotAllowedError):
        request("GET", url, policy=policy, resolver=no_dns)


def test_real_localhost_refused_by_the_system_resolver_path(server) -> None:
    server.route("/hello", hello)
    with pytest.raises(DestinationNotAllowedError):
        request("GET", server.url("/hello", host="localhost"), policy=STRICT)
    assert server.requests == []


def test_real_localhost_allowed_in_loopback_mode(server) -> None:
    url = server.route("/hello", hello)
    assert request("GET", url.replace("127.0.0.1", "localhost"), policy=LOCAL).body == b"hello"


def test_http_needs_allow_http(server) -> None:
    url = server.route("/hello", hello)
    with pytest.raises(DestinationNotAllowedError, match="scheme"):
        request("GET", url, policy=FetchPolicy(allowed_hosts=None, urls=UrlPolicy(allow_loopback=True)))
    assert server.requests == []


@pytest.mark.parametrize(
    "addresses",
    [["10.0.0.5"], ["93.184.216.34", "10.0.0.5"], ["2606:4700::1111", "fd00::1"], ["169.254.169.254"]],
)
def test_a_name_resolving_to_any_internal_address_is_refused(addresses: list[str]) -> None:
    with pytest.raises(DestinationNotAllowedError):
        request(
            "GET", "https://partner.example/ref", policy=FetchPolicy(None), resolver=lambda h, p: addresses
        )


def test_unresolvable_name_is_a_connection_error() -> None:
    with pytest.raises(FetchConnectionError):
        request("GET", "https://partner.example/", policy=FetchPolicy(None), resolver=lambda h, p: [])


def test_refusal_does_not_reveal_whether_a_port_is_open(server, closed_port: int) -> None:
    server.route("/", hello)
    errors = []
    for port in (server.port, closed_port):
        with pytest.raises(OutboundRequestError) as info:
            request("GET", f"http://127.0.0.1:{port}/", policy=STRICT)
        errors.append((type(info.value), str(info.value), info.value.code))
    assert errors[0] == errors[1]
    assert server.requests == []


def test_closed_port_in_loopback_mode_is_a_connection_error(closed_port: int) -> None:
    with pytest.raises(FetchConnectionError) as info:
        request("GET", f"http://127.0.0.1:{closed_port}/", policy=LOCAL)
    assert str(closed_port) not in str(info.value)


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("img.partner.example", ("img.partner.example",)),
        ("IMG.Partner.Example", ("img.partner.example",)),
        ("a.cdn.partner.example", ("*.partner.example",)),
        ("x.y.partner.example", ("*.partner.example",)),
    ],
)
def test_allowlist_admits(host: str, allowed: tuple[str, ...], server) -> None:
    server.route("/r", hello)
    policy = FetchPolicy(allowed_hosts=allowed, urls=LOCAL_URLS)
    response = request(
        "GET", f"http://{host}:{server.port}/r", policy=policy, resolver=lambda h, p: ["127.0.0.1"]
    )
    assert response.body == b"hello"


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("partner.example", ("*.partner.example",)),
        ("evilpartner.example", ("*.partner.example",)),
        ("partner.example.evil.test", ("partner.example",)),
        ("other.example", ("partner.example",)),
        ("partner.example", ()),
        ("127.0.0.1", ("partner.example",)),
    ],
)
def test_allowlist_refuses(host: str, allowed: tuple[str, ...]) -> None:
    policy = FetchPolicy(allowed_hosts=allowed, urls=LOCAL_URLS)
    with pytest.raises(DestinationNotAllowedError, match="allowlist"):
        policy.urls.destination(f"http://{host}/r", allowed_hosts=policy.allowed_hosts)


def test_public_addresses_are_allowed() -> None:
    for address in ("8.8.8.8", "93.184.216.34", "2606:4700::1111", "2a00:1450:4001::200e"):
        assert address_allowed(address), address
    for address in ("not-an-ip", "", "127.0.0.1", "::1", "192.0.2.1", "2001:db8::1"):
        assert not address_allowed(address), address
    assert address_allowed("127.0.0.2", allow_loopback=True)
    assert address_allowed("::1", allow_loopback=True)
    assert not address_allowed("10.0.0.1", allow_loopback=True)


# --- pinning: the socket goes to the address that was checked ---------------------------------


def test_dns_rebinding_cannot_swap_the_address(server) -> None:
    server.route("/img", hello)
    answers = iter([["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]])
    calls = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    response = request("GET", f"http://rebind.test:{server.port}/img", policy=LOCAL, resolver=rebinding)
    assert response.body == b"hello"
    assert calls == ["rebind.test"]
    assert server.requests[0].headers["host"] == f"rebind.test:{server.port}"


def test_connects_to_the_validated_public_ip(server, monkeypatch: pytest.MonkeyPatch) -> None:
    server.route("/img", hello)
    answers = iter([["93.184.216.34"], ["10.0.0.1"]])
    dialled = []
    real_open = pinned.open_stream

    def recording_open(address: str, port: int, timeout: float) -> httpcore.NetworkStream:
        dialled.append((address, port))
        return real_open("127.0.0.1", server.port, timeout)  # stand in for the public server

    monkeypatch.setattr(pinned, "open_stream", recording_open)
    policy = FetchPolicy(allowed_hosts=("partner.example",), urls=UrlPolicy(allow_http=True))
    response = request(
        "GET", "http://partner.example:8080/img", policy=policy, resolver=lambda h, p: next(answers)
    )
    assert response.body == b"hello"
    assert dialled == [("93.184.216.34", 8080)]
    assert server.requests[0].headers["host"] == "partner.example:8080"


def test_tls_to_a_pinned_ip_keeps_sni_host_and_certificate_name(tls_server, tls_material) -> None:
    _, client_context, sni_seen = tls_material
    tls_server.route("/img", hello)
    policy = FetchPolicy(allowed_hosts=("reference.test",), urls=UrlPolicy(allow_loopback=True))
    url = f"https://reference.test:{tls_server.port}/img"
    response = request(
        "GET", url, policy=policy, resolver=lambda h, p: ["127.0.0.1"], ssl_context=client_context
    )
    assert response.body == b"hello"
    assert sni_seen[-1] == "reference.test"
    assert tls_server.requests[0].headers["host"] == f"reference.test:{tls_server.port}"


def test_tls_certificate_for_another_name_is_refused(tls_server, tls_material) -> None:
    _, client_context, _ = tls_material
    tls_server.route("/img", hello)
    policy = FetchPolicy(allowed_hosts=None, urls=UrlPolicy(allow_loopback=True))
    url = f"https://other.test:{tls_server.port}/img"
    with pytest.raises(FetchConnectionError):
        request("GET", url, policy=policy, resolver=lambda h, p: ["127.0.0.1"], ssl_context=client_context)
    assert tls_server.requests == []


# --- redirects --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirect_to_a_private_address_is_not_followed(server, status: int) -> None:
    url = server.route("/r", lambda h: h.reply(status, b"", {"Location": "http://10.0.0.1/admin"}))
    with pytest.raises(UpstreamStatusError) as info:
        request("GET", url, policy=LOCAL)
    assert info.value.status == status
    assert len(server.requests) == 1


def test_redirect_to_the_same_server_is_not_followed_either(server) -> None:
    server.route("/target", hello)
    url = server.route("/r", lambda h: h.reply(302, b"", {"Location": server.url("/target")}))
    with pytest.raises(UpstreamStatusError):
        request("GET", url, policy=LOCAL)
    assert server.calls("/target") == 0


# --- deadlines --------------------------------------------------------------------------------

FAST = FetchPolicy(
    allowed_hosts=None,
    urls=LOCAL_URLS,
    connect_timeout=0.5,
    total_timeout=1.0,
)


def drip_body(handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    while not handler.server.local.stop.wait(0.05):
        handler.wfile.write(b"x")
        handler.wfile.flush()


def drip_headers(handler) -> None:
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    while not handler.server.local.stop.wait(0.05):
        handler.wfile.write(b"X-Slow: 1\r\n")
        handler.wfile.flush()


def silent(handler) -> None:
    handler.server.local.stop.wait(120)


@pytest.mark.parametrize("behaviour", [drip_body, drip_headers, silent])
def test_slow_servers_are_cut_off_at_the_total_deadline(server, behaviour) -> None:
    url = server.route("/slow", behaviour)
    started = time.monotonic()
    with pytest.raises(FetchTimeoutError):
        request("GET", url, policy=FAST)
    # cut at the 1 s deadline: the server would go on for minutes (the bound only tells the two apart)
    assert 0.9 <= time.monotonic() - started < 60


def test_silent_resolver_is_bounded_by_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = threading.Event()

    def slow_getaddrinfo(*args: object, **kwargs: object) -> list[object]:
        answer.wait(300)  # a resolver that answers only after the test
        return []

    monkeypatch.setattr(safe_http.socket, "getaddrinfo", slow_getaddrinfo)
    try:
        with pytest.raises(FetchTimeoutError):  # raised at all: the deadline, not the resolver, ended it
            request("GET", "https://slow-dns.example/", policy=FAST)
    finally:
        answer.set()


# --- size caps --------------------------------------------------------------------------------

HALF_GB = 500 * MB


def endless(declare_length: bool):
    def handler(h) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "image/jpeg")
        if declare_length:
            h.send_header("Content-Length", str(HALF_GB))
        h.end_headers()
        chunk = b"\xff" * 65536
        sent = 0
        while sent < HALF_GB and not h.server.local.stop.is_set():
            h.wfile.write(chunk)  # generated lazily: nothing holds 500 MB
            sent += len(chunk)
            h.count(len(chunk))

    return handler


@pytest.mark.parametrize("declare_length", [True, False])
def test_half_gigabyte_body_refused_early(server, declare_length: bool) -> None:
    url = server.route("/huge", endless(declare_length))
    policy = FetchPolicy(allowed_hosts=None, urls=LOCAL_URLS, max_bytes=2 * MB)
    with pytest.raises(ResponseTooLargeError):
        request("GET", url, policy=policy)
    server.stop.set()
    assert server.bytes_sent.get("/huge", 0) < 64 * MB


def test_default_cap_refuses_a_declared_half_gigabyte(server) -> None:
    url = server.route("/huge", endless(True))
    with pytest.raises(ResponseTooLargeError):
        request("GET", url, policy=LOCAL)


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """64 MiB of zeros in about 64 KiB of gzip."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(MB)
    return b"".join(compressor.compress(block) for _ in range(64)) + compressor.flush()


def test_gzip_bomb_is_capped_after_decompression(server, gzip_bomb: bytes) -> None:
    assert len(gzip_bomb) < MB
    headers = {"Content-Encoding": "gzip", "Content-Type": "image/jpeg"}
    url = server.route("/bomb", lambda h: h.reply(200, gzip_bomb, headers))
    policy = FetchPolicy(allowed_hosts=None, urls=LOCAL_URLS, max_bytes=4 * MB)
    with pytest.raises(ResponseTooLargeError):
        request("GET", url, policy=policy)


def test_gzip_bomb_split_over_concatenated_members_is_capped(server) -> None:
    member = gzip.compress(bytes(MB))
    url = server.route("/bomb", lambda h: h.reply(200, member * 8, {"Content-Encoding": "gzip"}))
    policy = FetchPolicy(allowed_hosts=None, urls=LOCAL_URLS, max_bytes=4 * MB)
    with pytest.raises(ResponseTooLargeError):
        request("GET", url, policy=policy)


def test_small_gzip_body_is_decoded(server) -> None:
    body = b"reference " * 1000
    payload = gzip.compress(body) + gzip.compress(b"tail")
    url = server.route("/gz", lambda h: h.reply(200, payload, {"Content-Encoding": "gzip"}))
    assert request("GET", url, policy=LOCAL).body == body + b"tail"


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress"])
def test_other_content_encodings_are_refused(server, encoding: str) -> None:
    url = server.route("/enc", lambda h: h.reply(200, b"\x00" * 10, {"Content-Encoding": encoding}))
    with pytest.raises(FetchConnectionError):
        request("GET", url, policy=LOCAL)


def test_corrupt_gzip_is_a_connection_error(server) -> None:
    url = server.route("/gz", lambda h: h.reply(200, b"\x1f\x8bnot gzip", {"Content-Encoding": "gzip"}))
    with pytest.raises(FetchConnectionError):
        request("GET", url, policy=LOCAL)


# --- caller mistakes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "internal.example"},
        {"Transfer-Encoding": "chunked"},
        {"X-Injected": "a\r\nHost: evil"},
        {"Bad Name": "x"},
        {"X-Latin": "caf\xe9"},
    ],
)
def test_reserved_or_malformed_headers_are_programming_errors(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="header"):
        request("GET", "https://partner.example/", policy=FetchPolicy(None), headers=headers, resolver=no_dns)


def test_unknown_method_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="method"):
        request("CONNECT", "https://partner.example/", policy=FetchPolicy(None), resolver=no_dns)


def test_policy_validates_itself() -> None:
    with pytest.raises(ValueError):
        FetchPolicy(None, total_timeout=0)
    with pytest.raises(TypeError):
        FetchPolicy("partner.example")  # type: ignore[arg-type]
