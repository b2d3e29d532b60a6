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

import contextlib
import functools
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from facematch.errors import (
    DestinationNotAllowedError,
    FetchConnectionError,
    FetchTimeoutError,
    ResponseTooLargeError,
    UpstreamStatusError,
)
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

    ``allow_http`` and ``allow_loopback`` exist for local development and tests only: the caller
    must refuse them outside development mode. ``allow_loopback`` admits 127.0.0.0/8 and ``::1``
    and nothing else; private, link-local and every other internal range stay refused.
    """

    allowed_hosts: tuple[str, ...] | None
    allow_http: bool = False
    allow_loopback: bool = False
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

    @property
    def urls(self) -> UrlPolicy:
        """The URL rules this policy applies (the same object Initiate Flow and partner settings use)."""
        return UrlPolicy(allow_http=self.allow_http, allow_loopback=self.allow_loopback)


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
    backend = _PinnedBackend(target.url.raw_host.decode("ascii"), addresses, deadline)
    context = ssl_context if ssl_context is not None else _default_ssl_context()
    timeout = httpx.Timeout(policy.total_timeout, connect=policy.connect_timeout)
    transport = _PinnedTransport(backend, context)
    with httpx.Client(
        transport=transport, trust_env=False, follow_redirects=False, timeout=timeout
    ) as client:
        outgoing = client.build_request(method, target.url, headers=send_headers, content=content)
        response = client.send(outgoing, stream=True)
        try:
            if 300 <= response.status_code < 400:
                raise UpstreamStatusError(response.status_code)
            body = _read_body(response, policy.max_bytes, deadline) if read_body else b""
        finally:
            response.close()
        resp_headers = {k.lower(): v for k, v in response.headers.items()}
        return SafeResponse(status=response.status_code, headers=resp_headers, body=body)


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs milliseconds; a context is safe to share between threads.
    return httpx.create_ssl_context()


def validate_url(url: str, policy: FetchPolicy) -> None:
    """Apply every check that needs no DNS (scheme, userinfo, host form, allowlist, IP literals).

    For checking configured URLs early (a callback URL, a ``referenceImageUrl``); :func:`request`
    repeats these checks and the address checks at send time. Raises
    :class:`DestinationNotAllowedError`.
    """
    _check_url(url, policy)


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


def _open_stream(address: str, port: int, timeout: float) -> httpcore.NetworkStream:
    """Open a TCP stream to an already validated IP address (no name lookup happens here)."""
    return httpcore.SyncBackend().connect_tcp(address, port, timeout=timeout, socket_options=[])


class _DeadlineStream(httpcore.NetworkStream):
    """Clamps every socket operation to the request's total deadline (slow-drip servers)."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def _budget(self, timeout: float | None, exc: type[Exception]) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise exc("the total deadline passed")
        return remaining if timeout is None else min(timeout, remaining)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._budget(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._budget(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        budget = self._budget(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, budget), self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects the one expected host to its validated addresses, and nothing else."""

    def __init__(self, host: str, addresses: Sequence[str], deadline: float) -> None:
        self._host = host
        self._addresses = addresses
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if host != self._host:
            raise httpcore.ConnectError("unexpected host")
        failure: Exception = httpcore.ConnectError("no address")
        for address in self._addresses:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise httpcore.ConnectTimeout("the total deadline passed")
            budget = remaining if timeout is None else min(timeout, remaining)
            try:
                return _DeadlineStream(_open_stream(address, port, budget), self._deadline)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not allowed")


@contextlib.contextmanager
def _mapped_errors() -> Iterator[None]:
    # One message per class, so nothing the partner sees says whether a port was open or closed.
    try:
        yield
    except httpcore.TimeoutException:
        raise FetchTimeoutError("the remote server did not answer in time") from None
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol, ssl.SSLError):
        raise FetchConnectionError("the remote server could not be reached") from None


class _MappedStream(httpx.SyncByteStream):
    def __init__(self, inner: Iterable[bytes]) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        with _mapped_errors():
            yield from self._inner

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


class _PinnedTransport(httpx.BaseTransport):
    """httpx transport over a one-request httpcore pool that can only reach the pinned addresses."""

    def __init__(self, backend: _PinnedBackend, ssl_context: ssl.SSLContext) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, max_connections=1, retries=0, network_backend=backend
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _mapped_errors():
            core_response = self._pool.handle_request(core_request)
        assert isinstance(core_response.stream, Iterable)
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_MappedStream(core_response.stream),
            extensions=core_response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


def _read_body(response: httpx.Response, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise ResponseTooLargeError("the response is larger than allowed")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        decoder: _BoundedInflater | None = None
    elif encoding in ("gzip", "x-gzip", "deflate"):
        decoder = _BoundedInflater(max_bytes)
    else:
        raise FetchConnectionError("the response uses an unsupported content encoding")
    parts: list[bytes] = []
    size = 0
    for chunk in response.iter_raw():
        if time.monotonic() > deadline:
            raise FetchTimeoutError("the remote server did not answer in time")
        data = chunk if decoder is None else decoder.feed(chunk)
        size += len(data)
        if size > max_bytes:
            raise ResponseTooLargeError("the response is larger than allowed")
        parts.append(data)
    return b"".join(parts)


class _BoundedInflater:
    """gzip/zlib decoding that never produces more than ``limit + 1`` bytes in total (gzip bombs)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._produced = 0
        self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # auto-detects gzip or zlib

    def feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        while data:
            room = self._limit + 1 - self._produced
            try:
                piece = self._inflater.decompress(data, room)
            except zlib.error:
                raise FetchConnectionError("the response body could not be decoded") from None
            self._produced += len(piece)
            out.append(piece)
            if self._produced > self._limit:
                raise ResponseTooLargeError("the response is larger than allowed")
            if self._inflater.eof:
                # Concatenated gzip members are one valid body; start a new member on what is left.
                data = self._inflater.unused_data
                self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)
            else:
                data = self._inflater.unconsumed_tail
        return b"".join(out)
