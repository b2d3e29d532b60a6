"""Real HTTP servers on 127.0.0.1 for the outbound-request tests (reference fetch, callbacks)."""

from __future__ import annotations

import contextlib
import http.server
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

Handler = Callable[["RecordingHandler"], None]


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LocalServer:
    """A threaded HTTP server whose routes are plain functions of the request handler."""

    httpd: http.server.ThreadingHTTPServer
    scheme: str = "http"
    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    bytes_sent: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def route(self, path: str, handler: Handler) -> str:
        self.routes[path] = handler
        return self.url(path)

    def calls(self, path: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.path == path)


class RecordingHandler(http.server.BaseHTTPRequestHandler):
    server: _Httpd

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        local = self.server.local
        with local.lock:
            local.requests.append(
                Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
        handler = local.routes.get(self.path.split("?", 1)[0])
        if handler is None:
            self.reply(404, b"no route")
            return
        # OSError: the client hung up on purpose (caps, deadlines)
        with contextlib.suppress(OSError):
            handler(self)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        """Send a complete response (with Content-Length unless the headers set one)."""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "content-length" not in {k.lower() for k in (headers or {})}:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def count(self, n: int) -> None:
        local = self.server.local
        with local.lock:
            local.bytes_sent[self.path] = local.bytes_sent.get(self.path, 0) + n


class _Httpd(http.server.ThreadingHTTPServer):
    local: LocalServer
    daemon_threads = False
    block_on_close = True  # server_close() joins handler threads: no thread outlives its test

    def handle_error(self, request: object, client_address: object) -> None:
        pass


def _serve(ssl_context: ssl.SSLContext | None = None) -> Iterator[LocalServer]:
    httpd = _Httpd(("127.0.0.1", 0), RecordingHandler)
    if ssl_context is not None:
        httpd.socket = ssl_context.wrap_socket(httpd.socket, server_side=True)
    local = LocalServer(httpd=httpd, scheme="https" if ssl_context else "http")
    httpd.local = local
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield local
    finally:
        local.stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    """A plain-HTTP server on 127.0.0.1 (use with ``allow_http`` and ``allow_loopback``)."""
    yield from _serve()


@pytest.fixture
def tls_server(tls_material: tuple[ssl.SSLContext, ssl.SSLContext, list[str]]) -> Iterator[LocalServer]:
    """An HTTPS server on 127.0.0.1 whose certificate names ``reference.test``."""
    server_context, _, _ = tls_material
    yield from _serve(server_context)


@pytest.fixture(scope="session")
def tls_material(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[ssl.SSLContext, ssl.SSLContext, list[str]]:
    """(server context, client context trusting it, SNI names the server saw)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reference.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("reference.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path.write_bytes(cert_pem)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    sni_seen: list[str] = []
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_path, key_path)
    server_context.sni_callback = lambda _sock, sni, _ctx: sni_seen.append(str(sni)) and None
    client_context = ssl.create_default_context(cadata=cert_pem.decode("ascii"))
    return server_context, client_context, sni_seen


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
