"""Running gunicorn workers switch to a newly activated model without a restart or a failure
(the activation is recorded in the database by the CLI)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from moderation.cli import main
from moderation.ml import artifacts
from tests.conftest import MODELS_DIR, ROOT, free_port

pytestmark = [pytest.mark.functional, pytest.mark.slow]


def _two_versions(folder: Path) -> tuple[str, str]:
    shipped = artifacts.active_version(MODELS_DIR)
    assert shipped is not None
    first, second = "v-old", "v-new"
    for name in (first, second):
        shutil.copytree(MODELS_DIR / shipped, folder / name)
        manifest = json.loads((folder / name / "manifest.json").read_text())
        manifest["version"] = name
        (folder / name / "manifest.json").write_text(json.dumps(manifest))
    artifacts.activate(folder, first)
    return first, second


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return dict(json.load(response))


def test_workers_follow_models_active_without_failing_requests(tmp_path: Path) -> None:
    models = tmp_path / "models"
    old, new = _two_versions(models)
    port = free_port()
    env = {
        **os.environ,
        "MODERATION_DATABASE_URL": f"sqlite:///{tmp_path / 'swap.db'}",
        "MODERATION_MODELS_DIR": str(models),
        "MODERATION_SECRET_KEY": "swap-test",
        "MODERATION_FLOOD_SECONDS": "0",
        "MODERATION_RATELIMIT_ENABLED": "false",
        "MODERATION_RELOAD_SECONDS": "0.5",
        "MODERATION_WORKERS": "2",
        "MODERATION_METRICS_TOKEN": "swap-metrics",
        "MODERATION_REQUIRE_FORM_TOKEN": "false",
        "PORT": str(port),
    }
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "moderation"), "db", "upgrade"],
        env=env,
        check=True,
        capture_output=True,
    )
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    statuses: Counter[int] = Counter()
    stop = threading.Event()

    def traffic(worker: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            body = json.dumps(
                {
                    "comment": f"Comment {worker}-{n} about the budget.",
                    "author": "A",
                    "email": f"w{worker}n{n}@example.org",
                    "comment_post_ID": "swap",
                }
            ).encode()
            request = urllib.request.Request(
                base + "/comments", data=body, headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    statuses[response.status] += 1
            except urllib.error.HTTPError as error:
                statuses[error.code] += 1
            except OSError:
                statuses[0] += 1

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if _get(base + "/readyz")["model_version"] == old:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail((tmp_path / "gunicorn.log").read_text()[-3000:])
        threads = [threading.Thread(target=traffic, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        # Recorded in the service's database, which every worker looks at.
        activated = CliRunner().invoke(
            main,
            ["models", "activate", new, "--models-dir", str(models)],
            env={"MODERATION_DATABASE_URL": env["MODERATION_DATABASE_URL"]},
        )
        assert activated.exit_code == 0, activated.output
        seen: set[object] = set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            seen = {_get(base + "/readyz")["model_version"] for _ in range(20)}
            if seen == {new}:
                break
            time.sleep(0.3)
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join(timeout=20)
        assert seen == {new}, f"workers still on {seen}"
        assert statuses[201] > 20
        assert set(statuses) == {201}, statuses
        scrape = urllib.request.Request(
            base + "/metrics", headers={"Authorization": "Bearer swap-metrics"}
        )
        metrics = urllib.request.urlopen(scrape, timeout=10).read().decode()
        assert f'moderation_model_info{{version="{new}"}} 1.0' in metrics
    finally:
        stop.set()
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
