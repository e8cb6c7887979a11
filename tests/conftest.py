"""Shared fixtures: databases (SQLite and PostgreSQL), the app, the shipped model, a tiny model.

Every test that uses ``app``, ``client`` or ``db_session`` runs once on SQLite and once on
PostgreSQL. PostgreSQL is ``MODERATION_TEST_POSTGRES_URL`` (default: the local server's
``test`` database); where it does not answer those tests skip with the reason, except in CI
(``CI=true``), where they fail.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sklearn.pipeline import Pipeline
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from moderation import create_app
from moderation.cli import main
from moderation.domain.policy import Thresholds
from moderation.ml import artifacts
from moderation.ml.features import CommentInput, to_rows
from moderation.ml.model import build_pipeline
from moderation.storage import migrate
from moderation.web import database as db

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = ROOT / "models"
DATA_DIR = ROOT / "training" / "data"

TINY_TEXTS = [
    ("thanks for the article, very clear", 0),
    ("i disagree with the minister on this", 0),
    ("the war has killed thousands, terrible", 0),
    ("great reporting, more of this please", 0),
    ("where can i read the full report", 0),
    ("the council vote was close", 0),
    ("agreed, well said", 0),
    ("interesting, i did not know that", 0),
    ("my town had the same problem last year", 0),
    ("the numbers in the second chart look wrong", 0),
    ("buy cheap viagra online now", 1),
    ("best casino bonus click here", 1),
    ("visit my site for seo backlinks", 1),
    ("earn money from home click link", 1),
    ("cheap pills no prescription buy now", 1),
    ("free bonus casino spins click", 1),
    ("crypto recovery expert whatsapp now", 1),
    ("buy followers cheap click here", 1),
    ("best seo service backlinks cheap", 1),
    ("loan offer low interest email now", 1),
]


@pytest.fixture(scope="session")
def tiny_pipeline() -> Pipeline:
    """The real head pipeline fitted on 20 strings."""
    pipeline = build_pipeline(c=10.0)
    rows = to_rows([CommentInput(text) for text, _ in TINY_TEXTS])
    pipeline.fit(rows, np.array([label for _, label in TINY_TEXTS]))
    return pipeline


@pytest.fixture
def tiny_model_dir(tmp_path: Path, tiny_pipeline: Pipeline) -> Path:
    """A models folder holding one version made of the tiny pipeline (both heads)."""
    models_dir = tmp_path / "models"
    artifacts.save_model(
        models_dir,
        version="tiny",
        pipelines={"spam": tiny_pipeline, "abuse": tiny_pipeline},
        thresholds={"spam": Thresholds(0.3, 0.8), "abuse": Thresholds(0.3, 0.8)},
        metadata={},
    )
    return models_dir


@pytest.fixture(scope="session")
def shipped_model() -> artifacts.ModelArtifact:
    """The model committed in models/ and named by models/ACTIVE."""
    version = artifacts.active_version(MODELS_DIR)
    assert version is not None, "no shipped model in models/"
    return artifacts.load_model(MODELS_DIR / version)


# --------------------------------------------------------------------------- databases

POSTGRES_URL = os.environ.get(
    "MODERATION_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _postgres_or_skip() -> str:
    engine = db.make_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        message = f"PostgreSQL not reachable at {POSTGRES_URL}: {exc.__class__.__name__}"
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(message)
    finally:
        engine.dispose()
    return POSTGRES_URL


# Each test run gets its own PostgreSQL schema, so runs side by side never meet.
PG_SCHEMA = f"test_{os.getpid()}"


def fresh_database(url: str) -> Engine:
    """An engine on an empty database (a private schema on PostgreSQL), migrated to head."""
    if url.startswith("postgresql"):
        setup = db.make_engine(url)
        with setup.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
        setup.dispose()
        engine = db.make_engine(url, options=f"-c search_path={PG_SCHEMA}")
    else:
        engine = db.make_engine(url)
    migrate.upgrade(engine)
    return engine


@contextlib.contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """The URL of a new, migrated database that code under test commits to for real: on
    PostgreSQL a database of its own on the server of ``url`` (dropped afterwards), as separate
    instances of the service would share; on SQLite the file ``url`` names."""
    if not url.startswith("postgresql"):
        engine = db.make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url
        return
    name = f"scratch_{os.getpid()}_{secrets.token_hex(4)}"
    server = db.make_engine(url)
    with server.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    scratch = url.rsplit("/", 1)[0] + f"/{name}"
    engine = db.make_engine(scratch)
    migrate.upgrade(engine)
    engine.dispose()
    try:
        yield scratch
    finally:
        with server.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        server.dispose()


def drop_database(engine: Engine) -> None:
    """Remove what ``fresh_database`` made on PostgreSQL."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of the database this run of a test uses."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    return _postgres_or_skip()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """One migrated database per backend and session."""
    engine = fresh_database(database_url)
    yield engine
    drop_database(engine)
    engine.dispose()


BASE_CONFIG: dict[str, Any] = {
    "ENV": "testing",
    "SECRET_KEY": "test-secret-key",
    "SCORER_BACKEND": "fixed",
    "FIXED_SCORES": {"spam": 0.01, "abuse": 0.01},
    "MIN_FILL_SECONDS": 3,
    "RATELIMIT_ENABLED": False,  # tests of the limits turn them on
    "DEMO_PAGE": True,
    "REQUIRE_FORM_TOKEN": False,  # the token tests turn it on
    # The shipped model, never a version a developer trained into var/models.
    "MODELS_DIR": str(MODELS_DIR),
    "SHIPPED_MODELS_DIR": "",
}


@pytest.fixture
def make_app(engine: Engine) -> Iterator[Callable[..., Flask]]:
    """Build apps whose sessions live inside one outer transaction, rolled back after the test.

    Code under test may commit: with ``join_transaction_mode="create_savepoint"`` its commits
    release savepoints, and nothing reaches the database for good.
    """
    connection = engine.connect()
    outer = connection.begin()
    apps: list[Flask] = []

    def factory(**config: Any) -> Flask:
        app = create_app(
            {**BASE_CONFIG, "DATABASE_URL": engine.url.render_as_string(False), **config}
        )
        app.extensions[db.EXTENSION]["sessionmaker"] = sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        apps.append(app)
        return app

    yield factory
    outer.rollback()
    connection.close()
    for app in apps:
        db.get_engine(app).dispose()


@pytest.fixture
def make_real_app(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Build apps with the production session handling, on a database of this test's own.

    Each request's session begins, commits and rolls back for real (no outer transaction, no
    savepoints), so SQLite's ``BEGIN IMMEDIATE`` / ``DEFERRED`` choice and the views' rollbacks
    run as in production. The apps of one test share its database.
    """
    base = (
        database_url if database_url.startswith("postgresql") else f"sqlite:///{tmp_path}/real.db"
    )
    apps: list[Flask] = []
    with scratch_database(base) as url:

        def factory(**config: Any) -> Flask:
            app = create_app({**BASE_CONFIG, "MIN_FILL_SECONDS": 0, "DATABASE_URL": url, **config})
            apps.append(app)
            return app

        yield factory
        for app in apps:
            db.get_engine(app).dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The app with the fixed scorer (spam 0.01, abuse 0.01)."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of ``app``."""
    return app.test_client()


@pytest.fixture
def db_session(app: Flask) -> Iterator[Session]:
    """A session on the test transaction (the same one the app's requests use)."""
    session: Session = app.extensions[db.EXTENSION]["sessionmaker"]()
    yield session
    session.close()


# --------------------------------------------------------------------------- live servers


def sqlite_app(path: Path, **config: Any) -> Flask:
    """An app on a migrated SQLite file that commits for real (for live-server tests)."""
    app = create_app(
        {
            "ENV": "testing",
            "SECRET_KEY": "live-test",
            "DATABASE_URL": f"sqlite:///{path}",
            "DEMO_PAGE": True,
            "REQUIRE_FORM_TOKEN": False,
            "MODELS_DIR": str(MODELS_DIR),
            "SHIPPED_MODELS_DIR": "",
            **config,
        }
    )
    migrate.upgrade(db.get_engine(app))
    return app


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on when asked (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated SQLite database for the commands (and apps) a test runs: its URL, also set as
    ``MODERATION_DATABASE_URL``, with ``MODERATION_SECRET_KEY`` set too."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("MODERATION_DATABASE_URL", url)
    monkeypatch.setenv("MODERATION_SECRET_KEY", "test")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    return url


@contextlib.contextmanager
def served(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free 127.0.0.1 port in a thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        db.get_engine(app).dispose()


@pytest.fixture
def app_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """``caplog`` that also sees the app's loggers (``moderation`` does not propagate)."""
    import logging

    logger = logging.getLogger("moderation")
    logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)
