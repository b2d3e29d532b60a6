"""Engine and session factory; one unit of work per ``session()`` block; Alembic migrations.

SQLite is opened in WAL mode with a busy timeout, and every transaction starts with ``BEGIN
IMMEDIATE`` so that request threads, job workers and the callback sender (and a second process
during a restart) queue for the write lock instead of failing with "database is locked".
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from facematch.storage.sealed import SecretBox

log = logging.getLogger(__name__)


def is_unreachable(error: BaseException) -> bool:
    """Whether ``error`` says the database could not be reached or used right now (a lost or
    refused connection, a server restarting, a lock that outlived its timeout), not that a query
    was wrong: the same work may succeed later."""
    if isinstance(error, OperationalError | InterfaceError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _private_sqlite_file(path: Path) -> None:
    """Create the database file readable by its owner only (SQLite gives its -wal and -shm files
    the database file's mode), and narrow an existing one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            if name.stat().st_mode & 0o077:
                name.chmod(0o600)


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An SQLAlchemy engine for ``url`` (a SQLite file is created 0600, with its directory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _private_sqlite_file(Path(parsed.database))
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})
        _sqlite_setup(engine)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Database:
    """The engine plus a session factory. Requests, jobs and CLI commands each open their own session."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back when it raises."""
        session = self._factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:
            log.warning("database ping failed", exc_info=True)
            return False
        return True

    def dispose(self) -> None:
        self.engine.dispose()


#: the PostgreSQL advisory lock that serialises migrations ("face" in ASCII)
MIGRATION_LOCK = 0x66616365


def on_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once ``session``'s transaction has committed (never if it rolls back)."""
    event.listen(session, "after_commit", lambda _: callback(), once=True)


def migrate(url: str, *, secret_box: SecretBox | None = None) -> None:
    """Bring the schema at ``url`` up to the newest Alembic revision. ``secret_box`` seals the
    secrets of partners created before they were sealed at rest (needed only when there are any).

    Safe when several processes start at once: on PostgreSQL they queue for an advisory lock and
    the later ones find the schema current; on SQLite the migration's ``BEGIN IMMEDIATE`` does the
    same."""
    from alembic import command
    from alembic.config import Config

    script_location = resources.files("facematch.storage") / "migrations"
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["url"] = url
    config.attributes["secret_box"] = secret_box
    if make_url(url).get_backend_name() != "postgresql":
        command.upgrade(config, "head")
        return
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            connection.commit()
            try:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    """The Alembic revision the database at ``url`` is at (None: not migrated)."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
