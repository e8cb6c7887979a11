"""Two service instances (gunicorn on two ports, two workers each) on one PostgreSQL and one
Redis, as two hosts behind a load balancer would run: the rules hold across them.

Required in CI (PostgreSQL and Redis are started by .ci/run); skipped with the reason when
either is missing on a developer's machine.
"""

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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from moderation.domain.policy import Role
from moderation.ml import artifacts
from moderation.services.moderators import create_moderator, create_token
from moderation.storage.db import make_engine
from tests.conftest import (
    IN_CI,
    MODELS_DIR,
    ROOT,
    _postgres_or_skip,
    free_port,
    scratch_database,
)
from tests.factories import make_pending
from tests.functional.test_webhooks import Receiver

pytestmark = [pytest.mark.functional, pytest.mark.slow]

BIN = ROOT / ".venv" / "bin"
REDIS_URL = "redis://127.0.0.1:6379/11"
RELOAD_SECONDS = 1.0
INTAKE_LIMIT = 6  # per address and minute, shared by both instances through Redis


def _redis_or_skip() -> None:
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.flushdb()
    except Exception as exc:
        message = f"Redis not reachable at {REDIS_URL}: {exc.__class__.__name__}"
        if IN_CI:
            pytest.fail(message + " (CI=true: these tests must run)")
        pytest.skip(message)


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def call(
    url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None
) -> Answer:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return Answer(
                response.status, json.loads(response.read() or b"{}"), dict(response.headers)
            )
    except urllib.error.HTTPError as error:
        return Answer(error.code, json.loads(error.read() or b"{}"), dict(error.headers))


@dataclass
class Cluster:
    urls: list[str]
    database: str
    models: list[Path]
    env: dict[str, str]
    admin: str
    receiver: Receiver


def _wait_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(log.read_text()[-3000:])
        try:
            if call(url + "/readyz").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail("instance not ready: " + log.read_text()[-3000:])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = _postgres_or_skip()
    _redis_or_skip()
    folder = tmp_path_factory.mktemp("cluster")
    receiver = Receiver()
    # Host a has a newer version than the shipped one; host b only what ships.
    shipped = artifacts.active_version(MODELS_DIR)
    assert shipped is not None
    models = [folder / "a-models", folder / "b-models"]
    for m in models:
        m.mkdir()
    newer = models[0] / "v-next"
    shutil.copytree(MODELS_DIR / shipped, newer)
    manifest = json.loads((newer / "manifest.json").read_text())
    manifest["version"] = "v-next"
    (newer / "manifest.json").write_text(json.dumps(manifest))
    with scratch_database(base) as url:
        engine = make_engine(url)
        with Session(engine) as session:
            create_moderator(session, name="root", role=Role.ADMIN, password="long enough pw")
            admin = create_token(session, name="root")
            session.commit()
        engine.dispose()
        env = {
            **os.environ,
            "MODERATION_DATABASE_URL": url,
            "MODERATION_SHIPPED_MODELS_DIR": str(MODELS_DIR),
            "MODERATION_SECRET_KEY": "cluster-test",
            "MODERATION_RATELIMIT_STORAGE_URI": REDIS_URL,
            "MODERATION_INTAKE_RATE_LIMIT": f"{INTAKE_LIMIT}/minute",
            "MODERATION_RELOAD_SECONDS": str(RELOAD_SECONDS),
            "MODERATION_WORKERS": "2",
            "MODERATION_REQUIRE_FORM_TOKEN": "false",
            "MODERATION_METRICS_TOKEN": "cluster-metrics",
            "MODERATION_WEBHOOK_URL": receiver.url,
            "MODERATION_WEBHOOK_SECRETS": "cluster-webhook-secret",
            # Clients are told apart by X-Forwarded-For (one proxy in front of both).
            "MODERATION_PROXY_FIX_X_FOR": "1",
        }
        servers, urls = [], []
        for i, m in enumerate(models):
            port = free_port()
            log = folder / f"instance-{i}.log"
            with log.open("wb") as out:
                server = subprocess.Popen(
                    [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"],
                    cwd=ROOT,
                    env={**env, "MODERATION_MODELS_DIR": str(m), "PORT": str(port)},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            servers.append(server)
            urls.append(f"http://127.0.0.1:{port}")
            _wait_ready(urls[-1], server, log)
        try:
            yield Cluster(urls, url, models, env, admin, receiver)
        finally:
            for server in servers:
                os.killpg(server.pid, signal.SIGTERM)
            for server in servers:
                server.wait(timeout=30)
            receiver.down()


def _comment(
    text: str, ip: str, email: str, article: str = "cluster"
) -> tuple[dict[str, str], dict[str, str]]:
    body = {"comment": text, "author": "Reader", "email": email, "comment_post_ID": article}
    return body, {"X-Forwarded-For": ip}


def test_the_flood_rule_holds_across_instances(cluster: Cluster) -> None:
    first = call(
        cluster.urls[0] + "/comments",
        "POST",
        *_comment("A first thought.", "198.51.100.1", "f1@example.org"),
    )
    assert first.status == 201, first.body
    second = call(
        cluster.urls[1] + "/comments",
        "POST",
        *_comment("And a second one.", "198.51.100.1", "f2@example.org"),
    )
    assert second.status == 429
    assert second.body["error"] == "comment_flood"


def test_one_comment_sent_to_both_instances_at_once_is_stored_once(cluster: Cluster) -> None:
    def post(i: int) -> int:
        body, headers = _comment(
            "Exactly the same words, twice.", f"198.51.100.{20 + i}", "same@example.org"
        )
        return call(cluster.urls[i % 2] + "/comments", "POST", body, headers).status

    with ThreadPoolExecutor(8) as pool:
        statuses = Counter(pool.map(post, range(8)))
    # One is stored; the others are duplicates, or refused by the flood rule on the email.
    assert statuses[201] == 1, statuses
    assert set(statuses) <= {201, 409, 429}, statuses


def test_the_rate_limit_is_shared_by_the_instances(cluster: Cluster) -> None:
    answers = []
    for i in range(INTAKE_LIMIT + 4):
        body, headers = _comment(
            f"Comment number {i} from one address.", "203.0.113.77", f"r{i}@example.org"
        )
        answers.append(call(cluster.urls[i % 2] + "/comments", "POST", body, headers))
    limited = [a for a in answers if a.status == 429 and a.body.get("error") == "too_many_requests"]
    # The flood rule refuses most of them too; what matters is that the per-address limit
    # counted every request on both instances: no more than the limit got past it.
    assert len(answers) - len(limited) == INTAKE_LIMIT, [
        (a.status, a.body.get("error")) for a in answers
    ]


def test_claims_are_never_handed_out_twice(cluster: Cluster) -> None:
    engine = make_engine(cluster.database)
    with Session(engine) as session:
        for n in range(30):
            make_pending(session, article_id="claims", content=f"Borderline comment {n}.")
        session.commit()
    engine.dispose()
    claimed: list[int] = []
    lock = threading.Lock()

    def claim_all(i: int) -> None:
        while True:
            answer = call(
                cluster.urls[i % 2] + "/api/v1/reviews/claim?article=claims",
                "POST",
                {"count": 3},
                {"Authorization": f"Bearer {cluster.admin}"},
            )
            assert answer.status == 200, answer.body
            ids = [item["id"] for item in answer.body["items"]]
            if not ids:
                return
            with lock:
                claimed.extend(ids)

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(claim_all, range(6)))
    assert len(claimed) == 30
    assert len(set(claimed)) == 30


def test_webhooks_are_delivered_once_by_deliverers_on_both_hosts(cluster: Cluster) -> None:
    moderation = str(BIN / "moderation")
    deliverers = [
        subprocess.Popen(
            [moderation, "webhooks", "deliver", "--interval", "0.1"],
            env=cluster.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for i in range(12):
            body, headers = _comment(
                f"A kind and civil note, number {i}.",
                f"192.0.2.{100 + i}",
                f"w{i}@example.org",
                "hooks",
            )
            assert call(cluster.urls[i % 2] + "/comments", "POST", body, headers).status == 201
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            hooks = [
                r for r in cluster.receiver.requests if r.json["comment"]["article_id"] == "hooks"
            ]
            if len(hooks) >= 12:
                break
            time.sleep(0.1)
        time.sleep(1.0)  # room for a second delivery, if there were to be one
    finally:
        for d in deliverers:
            d.send_signal(signal.SIGTERM)
        for d in deliverers:
            d.communicate(timeout=20)
    ids = [int(r.headers["webhook-id"]) for r in cluster.receiver.requests]
    assert len(ids) == len(set(ids)), Counter(ids).most_common(3)
    hooks = [r for r in cluster.receiver.requests if r.json["comment"]["article_id"] == "hooks"]
    assert len(hooks) == 12


def test_a_model_activated_through_one_instance_is_served_by_all_within_the_interval(
    cluster: Cluster,
) -> None:
    admin = {"Authorization": f"Bearer {cluster.admin}"}
    before = call(cluster.urls[1] + "/readyz").body["model_version"]
    assert before != "v-next"
    assert not (cluster.models[1] / "v-next").exists()
    activated = call(cluster.urls[0] + "/api/v1/models/active", "PUT", {"version": "v-next"}, admin)
    assert activated.status == 200, activated.body
    start = time.monotonic()
    # Every worker of both instances serves the new version once the interval has passed
    # (a worker looks on its next request after RELOAD_SECONDS; unpacking and loading the
    # 13 MB model takes a moment more).
    time.sleep(RELOAD_SECONDS + 0.1)
    seen: dict[str, set[str]] = {url: set() for url in cluster.urls}
    deadline = start + RELOAD_SECONDS + 15
    while time.monotonic() < deadline:
        for url in cluster.urls:
            seen[url] = {call(url + "/readyz").body["model_version"] for _ in range(8)}
        if all(versions == {"v-next"} for versions in seen.values()):
            break
        time.sleep(0.2)
    elapsed = time.monotonic() - start
    assert all(versions == {"v-next"} for versions in seen.values()), seen
    assert (cluster.models[1] / "v-next" / "manifest.json").is_file()  # fetched by host b
    print(f"all workers of both instances on v-next {elapsed:.1f} s after activation")
