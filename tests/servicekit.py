"""Fixtures for the service tests: a migrated database per test session (SQLite file, or a fresh
PostgreSQL database when FACEMATCH_TEST_DATABASE_URL is set), settings, a real uvicorn server on
loopback (in a thread or as a process that tests may SIGKILL), partners, and an HTTP receiver."""

from __future__ import annotations

import base64
import contextlib
import http.server
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvicorn
from sqlalchemy import select

from facematch.api.links import RouteLinks
from facematch.api.server import server_config
from facematch.clock import Clock
from facematch.config import Settings
from facematch.engine.fake import FakeEngine
from facematch.flows import gateway, partners
from facematch.flows.context import Services
from facematch.outbound import webhooks
from facematch.outbound.urls import UrlPolicy
from facematch.security.capacity import AnalysisPool
from facematch.services import build_services
from facematch.storage import job_repo
from facematch.storage.db import Database, migrate
from facematch.storage.models import FlowSession, Submission
from facematch.storage.sealed import SecretBox

BLOB_KEY = base64.b64encode(b"k" * 32).decode()
TOKEN_SECRET = "test-token-secret-" + "x" * 32
ONBOARDING = "ACME-WEB_SDK-FACE_MATCH"
HERE = Path(__file__).resolve().parent


#: Every log line of this test session (in-process servers), the log files of server processes, and
#: the credentials handed out: after the suite, no credential and no token may appear in any log.
CAPTURED_LOGS: list[str] = []
LOG_FILES: list[Path] = []
SECRETS: set[str] = set()
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")


class _Capture(logging.Handler):
    def __init__(self) -> None:
        from facematch.logs import JsonFormatter

        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        CAPTURED_LOGS.append(self.format(record))


@pytest.fixture(scope="session", autouse=True)
def capture_logs() -> Iterator[None]:
    handler = _Capture()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # as configure_logging does for the service
    yield
    root.removeHandler(handler)
    root.setLevel(previous)


def leaked_secrets() -> list[str]:
    """Log lines that contain a credential handed out in this session, or anything shaped like a JWT."""
    lines = list(CAPTURED_LOGS)
    for path in LOG_FILES:
        if path.is_file():
            lines.extend(path.read_text(errors="replace").splitlines())
    return [line for line in lines if _JWT.search(line) or any(secret in line for secret in SECRETS)]


#: Leaks reported by the xdist workers (each checks its own logs and hands its finding over).
_WORKER_LEAKS: list[str] = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """Under pytest-xdist: collect what a worker found in its own logs."""
    _WORKER_LEAKS.extend(getattr(node, "workeroutput", {}).get("leaked_secrets", []))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaks = leaked_secrets()
    worker_output = getattr(session.config, "workeroutput", None)
    if worker_output is not None:  # an xdist worker: the controller reports (and fails the run)
        worker_output["leaked_secrets"] = leaks[:20]
        return
    leaks += _WORKER_LEAKS
    if leaks:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"SECRETS IN LOGS ({len(leaks)} lines), e.g.: {leaks[0][:300]}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class _Template:
    """A migrated database that each test's database is cloned from (PostgreSQL: ``CREATE DATABASE
    ... TEMPLATE``; SQLite: the backup API), so every test owns its rows at the cost of a copy."""

    url: str
    admin: str | None = None  # PostgreSQL: where databases are created and dropped
    name: str | None = None

    def clone(self, directory: Path) -> str:
        if self.admin is None:
            import sqlite3

            target = directory / f"facematch-{secrets.token_hex(4)}.db"
            source_path = self.url.removeprefix("sqlite:///")
            with (
                contextlib.closing(sqlite3.connect(source_path)) as source,
                contextlib.closing(sqlite3.connect(target)) as copy,
            ):
                source.backup(copy)
            return f"sqlite:///{target}"
        import psycopg
        from sqlalchemy.engine import make_url

        name = f"fm_test_{secrets.token_hex(6)}"
        with psycopg.connect(self.admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"')
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        if self.admin is None:
            return
        import psycopg
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        with psycopg.connect(self.admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Template]:
    """The migrated template of this test session (a SQLite file, or a PostgreSQL database of its
    own when FACEMATCH_TEST_DATABASE_URL is set), dropped after."""
    base = os.environ.get("FACEMATCH_TEST_DATABASE_URL")
    if not base:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'template.db'}"
        migrate(url)
        yield _Template(url)
        return
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(base)
    name = f"fm_tmpl_{secrets.token_hex(6)}"
    admin = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        migrate(parsed.set(database=name).render_as_string(hide_password=False))
        yield _Template(parsed.set(database=name).render_as_string(hide_password=False), admin, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(_database_template: _Template, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database of this test's own (SQLite, or PostgreSQL when FACEMATCH_TEST_DATABASE_URL
    is set): no other test's rows are in it, whatever ran before."""
    url = _database_template.clone(tmp_path_factory.mktemp("db"))
    yield url
    _database_template.drop(url)


@pytest.fixture(scope="module")
def module_database_url(
    _database_template: _Template, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database of this test module's own, for a server the module's tests share (each
    test then works with partners of its own and reads only their rows)."""
    url = _database_template.clone(tmp_path_factory.mktemp("db"))
    yield url
    _database_template.drop(url)


def service_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The FACEMATCH_* environment of a test server."""
    env = {
        "FACEMATCH_ENVIRONMENT": "test",
        "FACEMATCH_DATA_DIR": str(data_dir),
        "FACEMATCH_DATABASE__URL": database_url,
        "FACEMATCH_BLOBS__KEY": BLOB_KEY,
        "FACEMATCH_TOKENS__SECRET": TOKEN_SECRET,
        "FACEMATCH_REFERENCE__ALLOW_LOOPBACK": "true",
        "FACEMATCH_REFERENCE__ALLOW_HTTP": "true",
        "FACEMATCH_REFERENCE__RETRIES": "1",
        "FACEMATCH_SUBMISSIONS__WORKERS": "2",
        "FACEMATCH_SUBMISSIONS__POLL_INTERVAL_S": "0.05",
        "FACEMATCH_SUBMISSIONS__JOB_LEASE_S": "2",
        "FACEMATCH_CALLBACKS__POLL_INTERVAL_S": "0.05",
        "FACEMATCH_CALLBACKS__LEASE_S": "3",
    }
    env.update(extra)
    return env


def make_settings(database_url: str, data_dir: Path, **extra: str) -> Settings:
    saved = dict(os.environ)
    try:
        os.environ.update(service_env(database_url, data_dir, **extra))
        return Settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def fake_services(settings: Settings) -> Iterator[Services]:
    """The services of one process (an API process: with its links), with the fake engine, on this
    test's settings."""
    services = build_services(settings, engine=FakeEngine(), links=RouteLinks(settings))
    yield services
    services.db.dispose()


def seed_submission(db: Database, partner_id: str, **fields: Any) -> str:
    """A backend-to-backend flow session holding one submission (attempt 1, IN_PROGRESS unless
    ``fields`` say otherwise), written straight to the database; returns the submission id."""
    flow_id = seed_session(db, partner_id, {"status": "IN_PROGRESS", **fields})
    with db.session() as session:
        return str(session.scalar(select(Submission.id).where(Submission.session_id == flow_id)))


def seed_session(db: Database, partner_id: str, *attempts: dict[str, Any], interactive: bool = False) -> str:
    """A flow session holding ``attempts`` (attempt 1, 2, ... with these fields), written straight to
    the database; ``interactive``: started with Initiate Flow (``source=SDK``). Returns its id."""
    flow_id = str(uuid.uuid4())
    with db.session() as session:
        session.add(
            FlowSession(
                id=flow_id,
                partner_id=partner_id,
                partner_session_id=flow_id,
                partner_user_id="u",
                partner_user_id_type="T",
                source="SDK" if interactive else "API",
                interactive=interactive,
            )
        )
        session.flush()
        for number, fields in enumerate(attempts, start=1):
            row: dict[str, Any] = {"details": {}, **fields}
            session.add(
                Submission(
                    id=str(uuid.uuid4()), partner_id=partner_id, session_id=flow_id, attempt=number, **row
                )
            )
    return flow_id


def seed_confirmed(svc: Services, selfie: bytes | None, reference: bytes | None, **fields: Any) -> str:
    """A confirmed attempt of a new partner, its images stored and its job queued (as a confirm
    leaves them); returns the submission id."""
    partner_id = create_partner(svc.db).partner_id
    submission_id = seed_submission(
        svc.db,
        partner_id,
        selfie_blob=svc.blobs.put(selfie) if selfie is not None else None,
        reference_blob=svc.blobs.put(reference) if reference is not None else None,
        **fields,
    )
    with svc.db.session() as session:
        job_repo.enqueue_job(submission_id, partner_id, session=session)
    return submission_id


@dataclass
class PartnerCreds:
    partner_id: str
    client_id: str
    passkey: str
    webhook_secret: str


#: seals partner secrets as the test servers do (they run with BLOB_KEY as their key)
SECRET_BOX = SecretBox(key=base64.b64decode(BLOB_KEY), key_id="k1")
#: where test partners' callbacks may go (loopback HTTP receivers)
CALLBACK_POLICY = webhooks.callback_policy(UrlPolicy(allow_http=True, allow_loopback=True))


def create_partner(db: Database, **options: Any) -> PartnerCreds:
    defaults: dict[str, Any] = {"onboarding_partners": [ONBOARDING], "reference_hosts": ["127.0.0.1"]}
    defaults.update(options)
    callback = defaults.pop("callback_url", None)
    with db.session() as session:
        created = partners.create_partner(
            "Test partner", partners.PartnerOptions(**defaults), session=session, box=SECRET_BOX
        )
        if callback:
            partners.set_callback(created.partner, callback, box=SECRET_BOX, policy=CALLBACK_POLICY)
        SECRETS.update((created.passkey, created.webhook_secret))  # never to appear in a log line
        return PartnerCreds(
            created.partner.id, created.partner.client_id, created.passkey, created.webhook_secret
        )


def user_token(svc: Services, creds: PartnerCreds, user_id: str = "u", user_id_type: str = "T") -> str:
    """A user token of ``creds``' partner, as Generate User Token gives it."""
    return gateway.user_token(
        svc,
        client_id=creds.client_id,
        pass_key=creds.passkey,
        onboarding_partner=ONBOARDING,
        partner_user_id=user_id,
        partner_user_id_type=user_id_type,
        source="127.0.0.1",
    ).token


class LiveServer:
    """uvicorn serving an app on a free loopback port, in a thread of this process."""

    def __init__(self, app: Any, port: int) -> None:
        self.app = app
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        services = getattr(app.state, "services", None)
        if services is not None:  # facematch: served as `facematch serve` serves it
            config = server_config(app, services.settings, host="127.0.0.1", port=port)
        else:  # another app (the demo partner)
            config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
        self.server = uvicorn.Server(config)
        logging.getLogger("uvicorn.access").disabled = True  # it logs query strings, as in production
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 120  # a bound on a hang only
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(20)

    @property
    def services(self) -> Any:
        return self.app.state.services


def live_app(
    database_url: str, data_dir: Path, engine: Any = None, *, clock: Clock | None = None, **extra: str
) -> LiveServer:
    """facematch (fake engine unless ``engine``) served in a thread; ``clock``: the time its flows see."""
    from facematch.api.app import create_app

    port = free_port()
    settings = make_settings(
        database_url, data_dir, FACEMATCH_SERVER__PUBLIC_URL=f"http://127.0.0.1:{port}", **extra
    )
    return LiveServer(create_app(settings, engine=engine or FakeEngine(), clock=clock), port)


class ServerProcess:
    """``tests/fake_server.py`` as a child process (real uvicorn, fake engine) that tests may kill;
    :class:`WorkerProcess` likewise runs ``tests/fake_worker.py``."""

    script = "fake_server.py"
    ready_path = "/readyz"

    def __init__(
        self,
        database_url: str,
        data_dir: Path,
        port: int,
        log_path: Path,
        *,
        fd_limit: int | None = None,
        **extra: str,
    ) -> None:
        self.fd_limit = fd_limit
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, **service_env(database_url, data_dir, **extra)}
        self.env["FACEMATCH_SERVER__PUBLIC_URL"] = self.url
        self.log_path = log_path
        LOG_FILES.append(log_path)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(HERE / self.script), str(self.port)],
                env=self.env,
                stdout=log,
                stderr=log,
                preexec_fn=None if self.fd_limit is None else self._limit_fds,
            )
        deadline = time.monotonic() + 180  # a bound on a hang only: a loaded machine starts slowly
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + self.ready_path, timeout=1).status_code == 200:
                    return self
            time.sleep(0.05)
        raise RuntimeError("server did not become ready")

    def _limit_fds(self) -> None:
        import resource

        assert self.fd_limit is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.fd_limit, self.fd_limit))

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class WorkerProcess(ServerProcess):
    """``tests/fake_worker.py``: job processing and callback delivery in a process of their own,
    with its /healthz and /metrics on ``port``."""

    script = "fake_worker.py"


Responder = Callable[["Receiver", "ReceivedRequest"], tuple[int, dict[str, str], bytes]]


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A loopback HTTP endpoint whose answers a test scripts (callbacks, reference images)."""

    responder: Responder
    requests: list[ReceivedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    httpd: http.server.ThreadingHTTPServer | None = None
    before_reply: Callable[[ReceivedRequest], None] | None = None
    on_request: Callable[[ReceivedRequest], None] | None = None

    @property
    def url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = ReceivedRequest(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                with receiver.lock:
                    receiver.requests.append(request)
                status, headers, payload = receiver.responder(receiver, request)
                if receiver.before_reply is not None:
                    receiver.before_reply(request)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
                if receiver.on_request is not None:
                    receiver.on_request(request)

            do_GET = do_POST = do_PUT = do_PATCH = _any  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()

    def count(self) -> int:
        with self.lock:
            return len(self.requests)


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it is truthy; ``timeout`` only ends a test that would hang (it bounds
    no behaviour: a loaded machine may take long)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def occupy(pool: AnalysisPool, release: threading.Event, owner: str | None = None) -> Callable[[], None]:
    """Take one of ``pool``'s slots from another thread until ``release`` is set (counted to
    ``owner``); returns a join."""
    entered = threading.Event()

    def work() -> None:
        entered.set()
        release.wait(10)

    thread = threading.Thread(target=pool.run, args=(work,), kwargs={"owner": owner})
    thread.start()
    assert entered.wait(5)
    return lambda: thread.join(10)


REDIS = "redis://127.0.0.1:6379/0"


def require_redis() -> None:
    """Fail (not skip) without the Redis the shared-limits tests need."""
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.fail("Redis is required at 127.0.0.1:6379 (it runs on this machine kind and on CI's)")


@contextlib.contextmanager
def api_processes(database_url: str, tmp_path: Path, count: int, **env: str) -> Iterator[list[ServerProcess]]:
    """``count`` API processes (fake engine, no workers) on one database, counting their limits
    in the local Redis under keys of their own."""
    prefix = f"test-{uuid.uuid4().hex[:10]}"  # this test's own keys in the shared Redis
    for n in range(count):
        (tmp_path / f"api{n}").mkdir()
    servers = [
        ServerProcess(
            database_url,
            tmp_path / f"api{n}",
            free_port(),
            tmp_path / f"api{n}.log",
            FACEMATCH_LIMITS__STORAGE_URI=REDIS,
            FACEMATCH_LIMITS__KEY_PREFIX=prefix,
            FACEMATCH_SUBMISSIONS__WORKERS="0",
            FACEMATCH_CALLBACKS__WORKERS="0",
            **env,
        )
        for n in range(count)
    ]
    for server in servers:
        server.start()
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()
