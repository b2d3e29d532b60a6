"""An SSRF-safe HTTP client for partner reference-image fetches and callback deliveries.

The address that is checked is the address the socket connects to: the host is resolved once,
every resolved address must be globally routable, and the connection goes to those validated
addresses only (the HTTP ``Host`` header and the TLS SNI/certificate check keep the hostname), so
DNS rebinding between the check and the connect cannot swap in an internal address.

Also: https only unless the policy allows http, no credentials in URLs, no numeric host tricks
(``0``, ``127.1``, ``2130706433``, ``0x7f000001``), a per-host allowlist, redirects never followed
(a 3xx is an :class:`~facematch.errors.UpstreamStatusError`), a connect timeout and a total
deadline enforced on every socket operation (a slow-drip server is cut off at the deadline), and a
byte cap counted after decompression.
"""

from __future__ import annotations

import functools
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass, field

import httpx

from facematch.errors import (
    DestinationNotAllowedError,
    FetchConnectionError,
    FetchTimeoutError,
    UpstreamStatusError,
)
from facematch.outbound import pinned
from facematch.outbound.urls import Destination, UrlPolicy

#: ``(host, port) -> IP address strings``; the default asks the system resolver.
Resolver = Callable[[str, int], Iterable[str]]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
"""Room for a 15 MiB image sent as base64 JSON."""

_ALLOWED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
#: Headers the client owns; a caller setting them could smuggle a second request or another host.
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "accept-encoding", "te", "upgrade"}
)
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_HEADER_VALUE = re.compile(r"^[\t\x20-\x7e]*$")


@dataclass(frozen=True)
class FetchPolicy:
    """Where an outbound request may go and how long and how large it may be.

    ``allowed_hosts``: exact hostnames (or IP literals) and ``*.suffix`` patterns (any subdomain of
    ``suffix``, not ``suffix`` itself); ``None`` means any host, which is only right for URLs that
    come from our own configuration (a partner's callback URL). Address checks apply either way.

    ``urls``: the deployment's one URL policy (:class:`~facematch.outbound.urls.UrlPolicy`), whose
    plain-http and loopback allowances exist for development and tests only (the settings refuse
    them in production); loopback admits 127.0.0.0/8 and ``::1`` and nothing else.
    """

    allowed_hosts: tuple[str, ...] | None
    urls: UrlPolicy = field(default_factory=UrlPolicy)
    connect_timeout: float = 3.0
    total_timeout: float = 10.0
    max_bytes: int = DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        if self.connect_timeout <= 0 or self.total_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        if isinstance(self.allowed_hosts, str):
            raise TypeError("allowed_hosts must be a tuple of hostnames, not a string")


@dataclass(frozen=True)
class SafeResponse:
    """A fully read response: status, headers with lower-case names, and the decoded body."""

    status: int
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased (``""`` when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def request(
    method: str,
    url: str,
    *,
    policy: FetchPolicy,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    read_body: bool = True,
    resolver: Resolver | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> SafeResponse:
    """Send one request under ``policy`` and return the whole (capped) response.

    Any status is returned except 3xx, which raises :class:`UpstreamStatusError` (redirects are
    never followed). ``read_body=False`` closes the connection after the headers (a callback only
    needs the status). ``resolver`` and ``ssl_context`` replace the system resolver and the default
    trust store (tests, private CAs). Raises :class:`DestinationNotAllowedError`,
    :class:`FetchTimeoutError`, :class:`FetchConnectionError`, :class:`ResponseTooLargeError` or
    :class:`UpstreamStatusError`; ``ValueError`` for a bad method or header (a programming error).
    """
    deadline = time.monotonic() + policy.total_timeout
    method = method.upper()
    if method not in _ALLOWED_METHODS:
        raise ValueError(f"method not supported: {method}")
    send_headers = _checked_headers(headers or {})
    target = _check_url(url, policy)
    addresses = _resolve_checked(target, policy, resolver, deadline)
    backend = pinned.PinnedBackend(target.url.raw_host.decode("ascii"), addresses, deadline)
    context = ssl_context if ssl_context is not None else _default_ssl_context()
    timeout = httpx.Timeout(policy.total_timeout, connect=policy.connect_timeout)
    transport = pinned.PinnedTransport(backend, context)
    with httpx.Client(
        transport=transport, trust_env=False, follow_redirects=False, timeout=timeout
    ) as client:
        outgoing = client.build_request(method, target.url, headers=send_headers, content=content)
        response = client.send(outgoing, stream=True)
        try:
            if 300 <= response.status_code < 400:
                raise UpstreamStatusError(response.status_code)
            body = pinned.read_body(response, policy.max_bytes, deadline) if read_body else b""
        finally:
            response.close()
        resp_headers = {k.lower(): v for k, v in response.headers.items()}
        return SafeResponse(status=response.status_code, headers=resp_headers, body=body)


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs milliseconds; a context is safe to share between threads.
    return httpx.create_ssl_context()


def _check_url(url: str, policy: FetchPolicy) -> Destination:
    return policy.urls.destination(url, allowed_hosts=policy.allowed_hosts)


def check_header(name: str, value: str) -> None:
    """``ValueError`` unless a caller may send this header: an HTTP token name, a value without
    control characters (no CR/LF), and not one of the headers the client sets itself."""
    if not _HEADER_NAME.match(name) or not _HEADER_VALUE.match(value):
        raise ValueError(f"invalid header: {name!r}")
    if name.lower() in _RESERVED_HEADERS:
        raise ValueError(f"header is set by the client and may not be overridden: {name}")


def _checked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        check_header(name, value)
        out[name] = value
    # Ask for the body as-is; a server that compresses anyway is decoded under the same byte cap.
    out["Accept-Encoding"] = "identity"
    return out


_resolver_pool: ThreadPoolExecutor | None = None
_resolver_pool_lock = threading.Lock()


def _system_resolve(host: str, port: int, timeout: float) -> list[str]:
    """getaddrinfo with a timeout: the system resolver itself cannot be given one."""
    global _resolver_pool
    with _resolver_pool_lock:
        if _resolver_pool is None:
            _resolver_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="facematch-dns")
    future = _resolver_pool.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=timeout)
    except FutureTimeoutError:
        raise FetchTimeoutError("the host name could not be resolved in time") from None
    except (OSError, UnicodeError):
        raise FetchConnectionError("the host name could not be resolved") from None
    return [str(info[4][0]) for info in infos]


def _resolve_checked(
    target: Destination, policy: FetchPolicy, resolver: Resolver | None, deadline: float
) -> tuple[str, ...]:
    if target.literal is not None:
        return (str(target.literal),)
    budget = min(policy.connect_timeout, deadline - time.monotonic())
    if resolver is None:
        found = _system_resolve(target.host, target.port, budget)
    else:
        try:
            found = list(resolver(target.host, target.port))
        except OSError:
            raise FetchConnectionError("the host name could not be resolved") from None
    addresses = tuple(dict.fromkeys(a.split("%", 1)[0] for a in found))
    if not addresses:
        raise FetchConnectionError("the host name could not be resolved")
    # One bad address refuses the host: an attacker controls which record a client tries first.
    urls = policy.urls
    if not all(urls.address_allowed(a) for a in addresses):
        raise DestinationNotAllowedError("the address is not publicly routable")
    return addresses
