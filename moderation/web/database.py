"""The app's database: one engine per app, one session per request (or CLI command).

The session is created lazily on ``g`` and closed at teardown; views and CLI commands commit,
services only flush. GET requests read in SQLite ``DEFERRED`` transactions, which never wait
for the write lock (see :mod:`moderation.storage.db`).
"""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from moderation.storage.db import begin_reading, make_engine, write_problem

EXTENSION = "moderation.db"


def init_app(app: Flask) -> None:
    """Create the engine and session factory (no connection is opened here)."""
    engine = make_engine(
        app.config["DATABASE_URL"], sqlite_synchronous=app.config["SQLITE_SYNCHRONOUS"]
    )
    app.extensions[EXTENSION] = {
        "engine": engine,
        "sessionmaker": sessionmaker(bind=engine, expire_on_commit=False),
    }
    app.teardown_appcontext(_close_session)


def get_engine(app: Flask) -> Engine:
    """The app's engine."""
    engine: Engine = app.extensions[EXTENSION]["engine"]
    return engine


def get_sessionmaker(app: Flask) -> sessionmaker[Session]:
    """The app's session factory (for work outside a request: the webhook deliverer)."""
    maker: sessionmaker[Session] = app.extensions[EXTENSION]["sessionmaker"]
    return maker


def get_session() -> Session:
    """The current request's (or CLI command's) session, created on first use."""
    if "db_session" not in g:
        session = current_app.extensions[EXTENSION]["sessionmaker"]()
        if has_request_context() and request.method in ("GET", "HEAD", "OPTIONS"):
            begin_reading(session)
        g.db_session = session
    result: Session = g.db_session
    return result


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def check(app: Flask) -> str | None:
    """Why the app's database cannot take a comment now, or ``None`` when it can."""
    return write_problem(get_engine(app))
