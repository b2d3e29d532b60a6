"""The connection under :mod:`facematch.outbound.safe_http`: TCP to addresses already validated (no
name lookup here), every socket operation clamped to the request's deadline, network errors mapped
to facematch's, and a body read under a byte cap counted after decompression (gzip bombs)."""

from __future__ import annotations

import contextlib
import ssl
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import httpcore
import httpx

from facematch.errors import FetchConnectionError, FetchTimeoutError, ResponseTooLargeError


def open_stream(address: str, port: int, timeout: float) -> httpcore.NetworkStream:
    """Open a TCP stream to an already validated IP address (no name lookup happens here)."""
    return httpcore.SyncBackend().connect_tcp(address, port, timeout=timeout, socket_options=[])


class DeadlineStream(httpcore.NetworkStream):
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
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, budget), self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class PinnedBackend(httpcore.NetworkBackend):
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
                return DeadlineStream(open_stream(address, port, budget), self._deadline)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not allowed")


@contextlib.contextmanager
def mapped_errors() -> Iterator[None]:
    # One message per class, so nothing the partner sees says whether a port was open or closed.
    try:
        yield
    except httpcore.TimeoutException:
        raise FetchTimeoutError("the remote server did not answer in time") from None
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol, ssl.SSLError):
        raise FetchConnectionError("the remote server could not be reached") from None


class MappedStream(httpx.SyncByteStream):
    def __init__(self, inner: Iterable[bytes]) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        with mapped_errors():
            yield from self._inner

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


class PinnedTransport(httpx.BaseTransport):
    """httpx transport over a one-request httpcore pool that can only reach the pinned addresses."""

    def __init__(self, backend: PinnedBackend, ssl_context: ssl.SSLContext) -> None:
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
        with mapped_errors():
            core_response = self._pool.handle_request(core_request)
        assert isinstance(core_response.stream, Iterable)
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=MappedStream(core_response.stream),
            extensions=core_response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


def read_body(response: httpx.Response, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise ResponseTooLargeError("the response is larger than allowed")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        decoder: BoundedInflater | None = None
    elif encoding in ("gzip", "x-gzip", "deflate"):
        decoder = BoundedInflater(max_bytes)
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


class BoundedInflater:
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
