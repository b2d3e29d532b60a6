"""Slow and greedy clients against a real server process over real sockets: stalled heads and
bodies are cut off, one address cannot take every connection, and the process stays below its
file-descriptor limit without flooding its log."""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from facematch.api.server import RepeatFilter
from servicekit import ServerProcess, free_port

pytestmark = pytest.mark.slow


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    sock.settimeout(5)
    return sock


def closed(sock: socket.socket, within: float) -> bytes | None:
    """What the server sent before closing ``sock`` within ``within`` seconds; None if still open."""
    sock.settimeout(within)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return received


def served(port: int, source: str) -> bool:
    """Whether a client at ``source`` gets /healthz answered (whenever the machine gets to it)."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=30) as client:
        return client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200


@contextlib.contextmanager
def server(database_url: str, tmp_path: Path, **env: str) -> Iterator[ServerProcess]:
    process = ServerProcess(
        database_url,
        tmp_path,
        free_port(),
        tmp_path / "server.log",
        fd_limit=int(env.pop("fd_limit")) if "fd_limit" in env else None,
        FACEMATCH_SUBMISSIONS__WORKERS="0",
        FACEMATCH_CALLBACKS__WORKERS="0",
        **env,
    ).start()
    try:
        yield process
    finally:
        process.stop()


def test_slow_headers_from_one_address_cannot_hold_the_server(database_url: str, tmp_path: Path) -> None:
    with server(
        database_url,
        tmp_path,
        FACEMATCH_SERVER__HEADER_TIMEOUT_S="1",
        FACEMATCH_SERVER__MAX_CONNECTIONS_PER_ADDRESS="20",
    ) as process:
        sockets = [connect(process.port) for _ in range(60)]
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        assert served(process.port, "127.0.0.2")  # another client is served meanwhile
        # each connection's fate, however long the machine takes: closed at once without a word
        # (past the address's cap), or answered 408 by the header timeout
        fates = [closed(sock, 30) for sock in sockets]
        refused = [fate for fate in fates if fate == b""]
        timed_out = [fate for fate in fates if fate is not None and fate.startswith(b"HTTP/1.1 408")]
        assert len(refused) >= 40 and len(refused) + len(timed_out) == len(sockets)
        for sock in sockets:
            sock.close()
        assert served(process.port, "127.0.0.1")  # the address is welcome again


def test_a_dripping_body_is_cut_off(database_url: str, tmp_path: Path) -> None:
    with server(
        database_url,
        tmp_path,
        FACEMATCH_SERVER__BODY_IDLE_TIMEOUT_S="1",
        FACEMATCH_SERVER__BODY_TIMEOUT_S="3",
    ) as process:
        head = (
            b"PUT /coe/v1/submissions/x/documents/SELFIE HTTP/1.1\r\n"
            b"Host: x\r\ncontent-length: 100000\r\n\r\n"
        )
        with (
            contextlib.closing(connect(process.port)) as stalled,
            contextlib.closing(connect(process.port)) as dripping,
        ):
            for sock in (stalled, dripping):
                sock.sendall(head + b"x")
            # one byte every 0.5 s: never idle for 1 s, so only the 3 s limit on the whole body
            # can end it (the drip would take far longer than that)
            for _ in range(240):
                time.sleep(0.5)
                try:
                    dripping.sendall(b"x")
                except OSError:
                    break
            assert closed(stalled, 30) is not None  # idle for more than a second
            assert closed(dripping, 30) is not None
        assert served(process.port, "127.0.0.1")


def test_the_process_stays_below_its_descriptor_limit(database_url: str, tmp_path: Path) -> None:
    with server(database_url, tmp_path, fd_limit="256", FACEMATCH_SERVER__HEADER_TIMEOUT_S="2") as process:
        sockets = []
        for host in range(2, 12):  # 300 idle connections from ten addresses; 256 descriptors
            for _ in range(30):
                with contextlib.suppress(OSError):
                    sockets.append(connect(process.port, f"127.0.0.{host}"))
        time.sleep(0.5)
        open_ones = [sock for sock in sockets if closed(sock, 0.02) is None]
        assert 0 < len(open_ones) <= 256 - 128  # the cap kept descriptors free for the rest
        assert process.process is not None and process.process.poll() is None
        # the header timeout frees them: whatever the machine's speed, they all end
        assert all(closed(sock, 30) is not None for sock in open_ones)
        assert served(process.port, "127.0.0.20")
        for sock in sockets:
            sock.close()
    log = (tmp_path / "server.log").read_text()
    assert "out of system resource" not in log


def test_repeated_log_lines_are_held_back() -> None:
    logger = logging.getLogger("facematch.test.repeats")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler, repeats = Keep(), RepeatFilter(interval_s=60)
    logger.addHandler(handler)
    logger.addFilter(repeats)
    logger.propagate = False
    try:
        for _ in range(10_000):
            logger.error("socket.accept() out of system resource")
        logger.error("another message")
    finally:
        logger.removeHandler(handler)
        logger.removeFilter(repeats)
        logger.propagate = True
    assert [r.getMessage() for r in records] == ["socket.accept() out of system resource", "another message"]
