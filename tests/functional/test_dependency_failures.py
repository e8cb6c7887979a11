"""Broken dependencies, made to fail for real: the service says so, never hangs, recovers.

- PostgreSQL: a port with nothing listening; a TCP proxy that stops forwarding (a network
  partition that keeps sockets open).
- SQLite: its file on a tiny tmpfs that is remounted read-only, or filled up.
- Redis (the shared rate-limit store): a port with nothing listening; a server that accepts
  connections and never answers.

Each answers 503 with ``Retry-After`` (an HTML page to a browser's form post) within seconds,
``/readyz`` says which dependency is down, and the next request after the fault is gone works
without a restart. No personal data reaches the error log.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import select
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func
from sqlalchemy import select as sql_select
from sqlalchemy.orm import Session

from moderation import create_app
from moderation.storage import migrate
from moderation.storage.tables import Comment
from moderation.web import database as db
from tests.conftest import IN_CI, POSTGRES_URL, _postgres_or_skip, free_port

pytestmark = pytest.mark.functional

BASE = {
    "ENV": "testing",
    "SECRET_KEY": "failure-tests",
    "SCORER_BACKEND": "fixed",
    "FIXED_SCORES": {"spam": 0.01, "abuse": 0.01},
    "RATELIMIT_ENABLED": False,
    "FLOOD_SECONDS": 0,
}


def comment(number: int, **extra: Any) -> dict[str, Any]:
    return {
        "comment": f"A calm and reasonable remark, number {number}.",
        "author": "Fault Tester",
        "email": f"private.person{number}@example.org",
        "comment_post_ID": "faults",
        **extra,
    }


def assert_unavailable(response: Any, *, seconds: float, limit: float = 8.0) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert int(response.headers["Retry-After"]) > 0
    assert seconds < limit, f"took {seconds:.1f} s"


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = fn()
    return result, time.monotonic() - started


# --------------------------------------------------------------------------- PostgreSQL


def test_postgres_with_nothing_listening_is_a_quick_503(
    app_logs: pytest.LogCaptureFixture,
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    app = create_app({**BASE, "DATABASE_URL": url})
    client = app.test_client()
    with app_logs.at_level(logging.INFO):
        response, seconds = timed(lambda: client.post("/comments", json=comment(1)))
    assert_unavailable(response, seconds=seconds)
    assert response.json["error"] == "unavailable"
    page, _ = timed(lambda: client.post("/comments", data=comment(2)))
    assert page.status_code == 503
    assert page.mimetype == "text/html"
    assert "try again" in page.get_data(as_text=True)
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json["problems"]["database"].startswith("unreachable")
    logged = "\n".join(r.getMessage() + str(r.exc_text or "") for r in app_logs.records)
    assert "database unavailable" in logged
    assert "private.person1" not in logged
    assert "calm and reasonable" not in logged


class StallingProxy:
    """Forwards TCP to a target until ``stall()``; then it keeps every socket open and silent."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.stalled = threading.Event()
        self.stopped = threading.Event()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.server.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                continue
            self.sockets.append(client)
            if self.stalled.is_set():
                continue  # accepted, never answered
            upstream = socket.create_connection(self.target)
            self.sockets.append(upstream)
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        while not self.stopped.is_set():
            ready, _, _ = select.select([a, b], [], [], 0.2)
            if self.stalled.is_set():
                continue  # read nothing, send nothing: a partition with open sockets
            for sock in ready:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                peers[sock].sendall(data)

    def stall(self) -> None:
        self.stalled.set()

    def resume(self) -> None:
        self.stalled.clear()

    def close(self) -> None:
        self.stopped.set()
        for sock in [self.server, *self.sockets]:
            with contextlib.suppress(OSError):
                sock.close()


# Connections that stalled mid-query are dropped, not closed politely: psycopg notes that
# when they are collected, which happens here (gc.collect below) rather than in a later test.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_stalled_postgres_gives_503_in_seconds_and_recovers() -> None:
    _postgres_or_skip()
    from sqlalchemy.engine import make_url

    target = make_url(POSTGRES_URL)
    proxy = StallingProxy((target.host or "127.0.0.1", target.port or 5432))
    schema = f"stall_{os.getpid()}"
    url = target.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    setup = db.make_engine(POSTGRES_URL)
    with setup.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        app = create_app({**BASE, "DATABASE_URL": url, "REQUEST_DEADLINE_SECONDS": 2})
        engine = db.make_engine(url, options=f"-c search_path={schema}")
        migrate.upgrade(engine)
        app.extensions[db.EXTENSION]["engine"] = engine
        app.extensions[db.EXTENSION]["sessionmaker"].configure(bind=engine)
        client = app.test_client()
        assert client.post("/comments", json=comment(1)).status_code == 201

        proxy.stall()  # pooled connections now hang mid-query; new ones hang on connect
        response, seconds = timed(lambda: client.post("/comments", json=comment(2)))
        assert_unavailable(response, seconds=seconds)
        again, seconds = timed(lambda: client.post("/comments", json=comment(3)))
        assert_unavailable(again, seconds=seconds)

        proxy.resume()
        recovered = client.post("/comments", json=comment(4))
        assert recovered.status_code == 201
        with Session(engine) as session:
            emails = set(session.scalars(sql_select(Comment.email)))
        assert emails == {"private.person1@example.org", "private.person4@example.org"}
        engine.dispose()
    finally:
        proxy.close()
        gc.collect()
        with setup.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        setup.dispose()


# --------------------------------------------------------------------------- SQLite


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs of our own (root and mount(8) needed; required in CI)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        reason = f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}"
        if IN_CI:
            pytest.fail(reason + " (CI=true: these tests must run)")
        pytest.skip(reason)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def sqlite_on(folder: Path) -> tuple[Flask, Path]:
    path = folder / "moderation.db"
    app = create_app({**BASE, "DATABASE_URL": f"sqlite:///{path}"})
    migrate.upgrade(db.get_engine(app))
    return app, path


def stored(path: Path) -> int:
    engine = db.make_engine(f"sqlite:///{path}")
    try:
        with Session(engine) as session:
            return session.scalar(sql_select(func.count()).select_from(Comment)) or 0
    finally:
        engine.dispose()


def remount(folder: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(folder)], check=True)


def test_a_read_only_sqlite_file_is_503_and_recovers_without_a_restart(small_disk: Path) -> None:
    app, path = sqlite_on(small_disk)
    client = app.test_client()
    assert client.post("/comments", json=comment(1)).status_code == 201
    # A file system cannot go read-only under a file open for writing: close the pooled
    # connection first (the service then meets the read-only file on its next connection).
    db.get_engine(app).dispose()
    remount(small_disk, "ro")
    try:
        response, seconds = timed(lambda: client.post("/comments", json=comment(2)))
        assert_unavailable(response, seconds=seconds)
        page = client.post("/comments", data=comment(3))
        assert page.status_code == 503
        assert page.mimetype == "text/html"
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "database" in ready.json["problems"]
    finally:
        remount(small_disk, "rw")
    assert client.post("/comments", json=comment(4)).status_code == 201
    assert client.get("/readyz").json["problems"] == {}
    assert stored(path) == 2


def test_a_full_disk_is_503_and_recovers_when_space_is_freed(small_disk: Path) -> None:
    app, path = sqlite_on(small_disk)
    client = app.test_client()
    assert client.post("/comments", json=comment(1)).status_code == 201
    filler = small_disk / "filler"
    with filler.open("wb") as fh, contextlib.suppress(OSError):
        while True:
            fh.write(b"\0" * 65536)
            fh.flush()
    response, seconds = timed(
        lambda: client.post("/comments", json=comment(2, comment="x" * 60000))
    )
    assert_unavailable(response, seconds=seconds)
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json["problems"]["database"] in ("disk full", "read-only") or ready.json[
        "problems"
    ]["database"].startswith("unreachable")
    filler.unlink()
    assert client.post("/comments", json=comment(3)).status_code == 201
    assert stored(path) == 2
    shutil.rmtree(small_disk / "unused", ignore_errors=True)


# --------------------------------------------------------------------------- Redis


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never says a word."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(server.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        for sock in [server, *held]:
            sock.close()


@pytest.mark.parametrize("kind", ["nothing listening", "never answers"])
def test_rate_limits_fall_back_to_memory_when_redis_fails(tmp_path: Path, kind: str) -> None:
    with contextlib.ExitStack() as stack:
        port = free_port() if kind == "nothing listening" else stack.enter_context(silent_server())
        app = create_app(
            {
                **BASE,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'redis.db'}",
                "RATELIMIT_ENABLED": True,
                "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{port}/0",
                "INTAKE_RATE_LIMIT": "3/minute",
            }
        )
        migrate.upgrade(db.get_engine(app))
        client = app.test_client()
        answers = []
        for number in range(5):
            response, seconds = timed(lambda n=number: client.post("/comments", json=comment(n)))
            answers.append(response.status_code)
            assert seconds < 5, f"a comment waited {seconds:.1f} s for Redis"
        # The limit still holds, counted in this process's memory.
        assert answers == [201, 201, 201, 429, 429]
        assert stored(tmp_path / "redis.db") == 3
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "rate_limit_storage" in ready.json["problems"]


# --------------------------------------------------------------------------- logs


def test_access_log_escapes_control_characters() -> None:
    from gunicorn.config import Config

    from moderation.web.access_log import SafeLogger

    logger = SafeLogger(Config())

    class Response:
        status = "404 NOT FOUND"
        sent = 10
        headers: tuple[tuple[str, str], ...] = ()

    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/x%0D%0Ay",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": '/x\r\n127.0.0.1 "GET /admin" 200',
        "HTTP_USER_AGENT": "agent\nwith newline",
    }

    class Elapsed:
        seconds = 0
        microseconds = 1000

    atoms = logger.atoms(Response(), [], environ, Elapsed())
    assert "\n" not in atoms["U"]
    assert "\r" not in atoms["U"]
    assert atoms["U"].startswith("/x\\x0d\\x0a127.0.0.1")
    assert "\n" not in atoms["a"]
