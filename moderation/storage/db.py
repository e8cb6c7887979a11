"""The database engine and the declarative base; no Flask (the app's sessions are in
:mod:`moderation.web.database`).

SQLite (the embedded default) runs in WAL mode with foreign keys on and explicit
``BEGIN IMMEDIATE`` transactions for writers, so concurrent gunicorn workers queue for the
write lock instead of failing on a lock upgrade; readers ask for ``DEFERRED`` transactions,
which never wait.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base of the ORM tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012 - SQLAlchemy reads it


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


# How long a request may wait for the database before it answers 503 (gunicorn kills a worker
# after 30 s): to open a connection, for a pooled one, for SQLite's write lock, for a statement.
CONNECT_TIMEOUT_SECONDS = 3
POOL_TIMEOUT_SECONDS = 3
SQLITE_BUSY_SECONDS = 5
STATEMENT_TIMEOUT_MS = 5000
LOCK_TIMEOUT_MS = 3000


def _sqlite_hooks(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, emit BEGIN (see the "begin" hook).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a comment answered 201 survives a power cut (NORMAL may lose the last ones).
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front (a read transaction that later writes can
        # fail on a lock upgrade); readers ask for DEFERRED and never block anyone.
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {'DEFERRED' if mode == 'DEFERRED' else 'IMMEDIATE'}")


def make_engine(url: str, *, sqlite_synchronous: str = "FULL", **connect_args: Any) -> Engine:
    """An engine for ``url`` with the per-backend settings (``connect_args`` go to the driver).

    ``sqlite_synchronous`` is SQLite's ``synchronous`` pragma: ``FULL`` or ``NORMAL``.

    Every wait is bounded well under the worker timeout, and errors never carry the bound
    values (a comment's email or text) into logs: ``hide_parameters``.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False},
            hide_parameters=True,
        )
        if sqlite_synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {sqlite_synchronous!r}")
        _sqlite_hooks(engine, sqlite_synchronous)
        return engine
    options = " ".join(
        part
        for part in (
            f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            f"-c lock_timeout={LOCK_TIMEOUT_MS}",
            str(connect_args.pop("options", "")),
        )
        if part
    )
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        hide_parameters=True,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "options": options,
            **connect_args,
        },
    )


def begin_writing(session: Session) -> None:
    """Move from reading to writing: on SQLite, end the read transaction so that the next
    statement begins ``IMMEDIATE`` (holding the one write lock only for the writes); on
    PostgreSQL, carry on in the same transaction (writers do not block each other there, and
    a new transaction would cost two more round trips).
    """
    if session.get_bind().dialect.name == "sqlite":
        session.rollback()


def begin_reading(session: Session) -> None:
    """Read without SQLite's write lock: the session's next transaction begins ``DEFERRED``
    (it must not have begun yet; on PostgreSQL nothing changes)."""
    session.connection(execution_options={"sqlite_begin": "DEFERRED"})


# SQLite needs room for its journal: below this much free space, writes are about to fail.
_MIN_FREE_BYTES = 1 << 20


def write_problem(engine: Engine) -> str | None:
    """Why the database cannot take a comment now, or ``None`` when it can.

    It must answer, and take writes: PostgreSQL not in read-only mode; SQLite's file and
    folder writable, with some free space. Only the error's kind is reported, never its text.
    """
    try:
        with engine.execution_options(sqlite_begin="DEFERRED").connect() as connection:
            connection.execute(text("SELECT 1"))
            if engine.dialect.name == "postgresql":
                read_only = connection.execute(text("SHOW transaction_read_only")).scalar()
                if read_only == "on":
                    return "read-only"
    except Exception as exc:
        return f"unreachable ({exc.__class__.__name__})"
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        folder = Path(database).resolve().parent
        if not os.access(database, os.W_OK) or not os.access(folder, os.W_OK):
            return "read-only"
        try:
            probe = folder / f".moderation-write-check-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError:
            return "read-only"
        if shutil.disk_usage(folder).free < _MIN_FREE_BYTES:
            return "disk full"
    return None
