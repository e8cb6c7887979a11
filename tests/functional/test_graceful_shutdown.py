"""Stopping gunicorn (SIGTERM) answers what it took in and refuses the rest cleanly."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port

pytestmark = [pytest.mark.functional, pytest.mark.slow]


def _post(base: str, number: int) -> tuple[str, int | None]:
    body = json.dumps(
        {
            "comment": f"A thoughtful reply, number {number}, about the new bus timetable.",
            "author": "Shutdown Tester",
            "email": f"shutdown{number}@example.org",
            "comment_post_ID": "shutdown",
        }
    ).encode()
    request = urllib.request.Request(
        base + "/comments", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            data = json.loads(response.read())  # a whole answer, or this raises
            return "answered", data["id"] if response.status == 201 else None
    except urllib.error.HTTPError as error:
        return f"http {error.code}", None
    except (ConnectionError, urllib.error.URLError, OSError):
        return "refused", None


def test_sigterm_answers_requests_in_flight_and_refuses_the_rest(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "shutdown.db"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MODERATION_")},
        "MODERATION_DATABASE_URL": f"sqlite:///{database}",
        "MODERATION_SECRET_KEY": "shutdown-test",
        "MODERATION_FLOOD_SECONDS": "0",
        "MODERATION_RATELIMIT_ENABLED": "false",
        "MODERATION_REQUIRE_FORM_TOKEN": "false",
        "PORT": str(port),
    }
    bin_dir = ROOT / ".venv" / "bin"
    subprocess.run([str(bin_dir / "moderation"), "db", "upgrade"], env=env, check=True)
    server = subprocess.Popen(
        [str(bin_dir / "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=2) as ready:
                    if ready.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        results: list[tuple[str, int | None]] = []
        lock = threading.Lock()

        def client(first: int) -> None:
            for number in range(first, first + 1000, 16):
                outcome = _post(base, number)
                with lock:
                    results.append(outcome)
                if outcome[0] == "refused":
                    return

        threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)  # the server is busy with a steady stream of comments
        os.killpg(server.pid, signal.SIGTERM)
        for thread in threads:
            thread.join(timeout=60)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
    kinds = {kind for kind, _ in results}
    assert kinds <= {"answered", "refused"}, kinds  # never a 5xx, never half an answer
    answered = {comment_id for kind, comment_id in results if kind == "answered"}
    assert len(answered) > 10
    with sqlite3.connect(database) as connection:
        stored = {row[0] for row in connection.execute("SELECT id FROM comments")}
    assert stored == answered  # every comment answered 201 is stored, and nothing else
