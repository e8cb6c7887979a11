"""End to end: the README's run command serves the service with gunicorn on SQLite."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, free_port

pytestmark = [pytest.mark.functional, pytest.mark.slow]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _open(request: urllib.request.Request | str) -> tuple[int, dict[str, str], bytes]:
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def hooks() -> Iterator[Any]:
    """The site's webhook endpoint (make run starts the deliverer beside gunicorn)."""
    from tests.functional.test_webhooks import Receiver

    receiver = Receiver()
    yield receiver
    receiver.down()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, hooks: Any) -> Iterator[str]:
    port = free_port()
    folder = tmp_path_factory.mktemp("run")
    db = folder / "service.db"
    log = (folder / "service.log").open("wb")
    env = {
        **os.environ,
        "MODERATION_DATABASE_URL": f"sqlite:///{db}",
        "MODERATION_SITE_ORIGINS": "https://news.example",
        "MODERATION_WEBHOOK_URL": hooks.url,
        "MODERATION_FLOOD_SECONDS": "0",  # several tests post from 127.0.0.1
        "MODERATION_WEBHOOK_SECRETS": "run-test-webhook-secret",
        "PORT": str(port),
    }
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, _, _body = _open(base + "/readyz")
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        else:
            output = (folder / "service.log").read_text(errors="replace")
            pytest.fail(f"the service did not become ready:\n{output[-3000:]}")
        yield base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        log.close()


def test_ready_with_the_shipped_model(served: str) -> None:
    status, _, body = _open(served + "/readyz")
    ready = json.loads(body)
    assert status == 200
    assert ready["database"] is True
    active = (ROOT / "models" / "ACTIVE").read_text().strip()
    assert ready["model_version"] == active


def test_a_browser_form_post_is_stored_decided_and_published(served: str) -> None:
    # The page the form is on carries a fresh token; a reader takes more than 3 s to type.
    _, _, body = _open(served + "/comments/form-token")
    token = json.loads(body)["token"]
    time.sleep(3.2)
    form = urllib.parse.urlencode(
        {
            "form_token": token,
            "comment": "Thanks for explaining the budget so clearly.",
            "author": "Jo Bloggs",
            "email": "jo@example.org",
            "url": "",
            "comment_post_ID": "2026-budget",
            "comment_parent": "0",
            "redirect_to": "https://news.example/2026-budget",
            "submit": "Post Comment",
        }
    ).encode()
    request = urllib.request.Request(
        served + "/comments",
        data=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "text/html,application/xhtml+xml",
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) e2e",
        },
        method="POST",
    )
    status, headers, _ = _open(request)
    assert status == 303
    assert headers["Location"].startswith("https://news.example/2026-budget#comment-")
    status, _, body = _open(served + "/articles/2026-budget/comments")
    assert status == 200
    comments = json.loads(body)["comments"]
    assert [c["content"] for c in comments] == ["Thanks for explaining the budget so clearly."]
    assert "email" not in comments[0]


def test_bad_json_gets_a_clear_4xx(served: str) -> None:
    request = urllib.request.Request(
        served + "/comments",
        data=b'{"comment": ',
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    status, _, body = _open(request)
    assert status == 400
    assert "not valid JSON" in json.loads(body)["message"]


def test_secret_is_not_a_default(served: str) -> None:
    secret = Path(ROOT / "var" / "secret_key")
    assert secret.is_file()
    assert oct(secret.stat().st_mode)[-3:] == "600"


def test_make_run_also_delivers_webhooks(served: str, hooks: Any) -> None:
    request = urllib.request.Request(
        served + "/comments",
        data=json.dumps(
            {
                "comment": "A clear and useful piece, thank you.",
                "author": "Webhook Reader",
                "email": "hooked@example.org",
                "comment_post_ID": "hooked",
            }
        ).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    status, _, body = _open(request)
    assert status == 201, body
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        delivered = [r for r in hooks.requests if r.json["comment"]["article_id"] == "hooked"]
        if delivered:
            break
        time.sleep(0.1)
    assert [r.json["comment"]["id"] for r in delivered] == [json.loads(body)["id"]]
