"""Signed webhooks from the outbox, against a real HTTP receiver on 127.0.0.1.

The receiver is a ``http.server`` in a thread: it records every request and can be told to
answer 500, to answer slowly, or be shut down (connection refused) and brought back on the
same port. Tests that need more than one connection commit for real and clean up after.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook
from werkzeug.datastructures import Headers

from moderation import create_app
from moderation.services import webhooks
from moderation.services.moderators import create_token
from moderation.storage.db import utcnow
from moderation.storage.tables import Comment, WebhookEvent
from moderation.web import database as db
from moderation.web.config import ConfigError, load_config
from tests.factories import make_moderator, make_pending

pytestmark = pytest.mark.functional

# The scheme's own form (whsec_ and base64) and a plain shared secret: both sign.
SECRETS = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "old-secret-fedcba9876543210"]


# --------------------------------------------------------------------------- the receiver


@dataclass(frozen=True)
class Received:
    path: str
    headers: Headers  # case-insensitive, as HTTP headers are
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A local webhook endpoint that records what it gets."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.status = 200
        self.delay = 0.0
        self._lock = threading.Lock()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/moderation"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.requests.append(
                        Received(self.path, Headers(list(self.headers.items())), body)
                    )
                    status, delay = receiver.status, receiver.delay
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def up(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def delivery_ids(self) -> list[int]:
        with self._lock:
            return [int(r.headers["webhook-id"]) for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.down()


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def hook_app(make_app: Callable[..., Flask], receiver: Receiver) -> Flask:
    """An app that sends webhooks to ``receiver``, signed with both secrets."""
    return make_app(WEBHOOK_URL=receiver.url, WEBHOOK_SECRETS=SECRETS, FLOOD_SECONDS=0)


def session_of(app: Flask) -> Session:
    session: Session = app.extensions[db.EXTENSION]["sessionmaker"]()
    return session


def outbox(session: Session) -> list[WebhookEvent]:
    session.expire_all()
    return list(session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all())


def post(client: FlaskClient, content: str, n: int = 1) -> dict[str, Any]:
    response = client.post(
        "/comments",
        json={
            "content": content,
            "name": f"Reader {n}",
            "email": f"reader{n}@example.org",
            "article_id": "42",
            "website": "https://reader.example",
        },
        environ_base={"REMOTE_ADDR": f"10.9.0.{n}"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    body: dict[str, Any] = response.json
    return body


def deliver(app: Flask, session: Session, **kwargs: Any) -> webhooks.DeliveryReport:
    kwargs.setdefault("now", utcnow())
    return webhooks.deliver_due(
        session,
        url=app.config["WEBHOOK_URL"],
        secrets=app.config["WEBHOOK_SECRETS"],
        timeout=app.config["WEBHOOK_TIMEOUT"],
        max_attempts=app.config["WEBHOOK_MAX_ATTEMPTS"],
        **kwargs,
    )


# --------------------------------------------------------------------------- enqueueing


@pytest.mark.parametrize(
    ("content", "event", "status"),
    [
        ("A fair summary of the council vote.", "comment.published", "approved"),
        ("Maybe the figures are from last year.", "comment.held", "pending"),
        ("You are a blockhead and so is the editor.", "comment.rejected", "rejected"),
    ],
)
def test_intake_enqueues_the_event_of_the_decision(
    make_app: Callable[..., Flask],
    receiver: Receiver,
    content: str,
    event: str,
    status: str,
) -> None:
    app = make_app(
        WEBHOOK_URL=receiver.url,
        WEBHOOK_SECRETS=SECRETS,
        SUSPECT_WORDS=["maybe"],
        BANNED_WORDS=["blockhead"],
    )
    created = post(app.test_client(), content)
    session = session_of(app)
    [row] = outbox(session)
    assert row.event == event
    assert row.delivered_at is None
    assert row.attempts == 0
    assert row.payload["event"] == event
    comment = row.payload["comment"]
    assert comment == {
        "id": created["id"],
        "article_id": "42",
        "parent_id": None,
        "status": status,
        "author": "Reader 1",
        "url": "https://reader.example",
        "content": content,
        "created_at": comment["created_at"],
    }
    assert "reader1@example.org" not in json.dumps(row.payload)
    assert "10.9.0.1" not in json.dumps(row.payload)
    assert receiver.requests == []  # the web request never calls the receiver itself
    session.close()


def test_nothing_is_enqueued_without_a_webhook_url(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    post(app.test_client(), "A fair summary of the council vote.")
    session = session_of(app)
    assert session.scalar(select(func.count()).select_from(Comment)) == 1
    assert outbox(session) == []
    session.close()


def test_no_event_without_its_change_and_no_change_without_its_event(
    hook_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(comment: Comment) -> dict[str, Any]:
        raise RuntimeError("the outbox is broken")

    monkeypatch.setattr(webhooks.outbox, "comment_json", broken)
    response = hook_app.test_client().post(
        "/comments",
        json={"content": "Fine words.", "name": "Ann", "email": "a@example.org", "article_id": "1"},
    )
    assert response.status_code == 500
    session = session_of(hook_app)
    assert session.scalar(select(func.count()).select_from(Comment)) == 0
    assert outbox(session) == []
    session.close()


def test_moderator_decision_undo_and_bulk_enqueue_their_events(
    hook_app: Flask, db_session: Session
) -> None:
    make_moderator(db_session, "alice")
    token = create_token(db_session, name="alice")
    first = make_pending(db_session)
    second = make_pending(db_session)
    third = make_pending(db_session)
    db_session.commit()
    client = hook_app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    approved = client.post(
        f"/api/v1/reviews/{first.id}/decision", json={"action": "approve"}, headers=headers
    )
    assert approved.status_code == 200, approved.json
    undone = client.post(f"/api/v1/reviews/{first.id}/undo", json={}, headers=headers)
    assert undone.status_code == 200, undone.json
    bulk = client.post(
        "/api/v1/reviews/bulk",
        json={"ids": [second.id, third.id, 999_999], "action": "reject_spam"},
        headers=headers,
    )
    assert bulk.status_code == 200
    conflict = client.post(  # decided already: no status change, no event
        f"/api/v1/reviews/{second.id}/decision", json={"action": "approve"}, headers=headers
    )
    assert conflict.status_code == 409

    rows = outbox(db_session)
    assert [
        (r.event, r.payload["comment"]["id"], r.payload["comment"]["status"]) for r in rows
    ] == [
        ("comment.published", first.id, "approved"),
        ("comment.held", first.id, "pending"),
        ("comment.rejected", second.id, "spam"),
        ("comment.rejected", third.id, "spam"),
    ]


# --------------------------------------------------------------------------- delivery


def test_delivery_posts_a_signed_body_that_verifies_with_each_secret(
    hook_app: Flask, receiver: Receiver
) -> None:
    created = post(hook_app.test_client(), "A fair summary of the council vote.")
    session = session_of(hook_app)
    report = deliver(hook_app, session)
    assert (report.delivered, report.retrying, report.gave_up) == (1, 0, 0)

    [request] = receiver.requests
    [row] = outbox(session)
    assert row.delivered_at is not None
    assert row.attempts == 1
    assert row.last_error == ""
    assert request.path == "/hooks/moderation"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Moderation-Event"] == "comment.published"
    assert request.headers["webhook-id"] == str(row.id)
    timestamp = request.headers["webhook-timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    body = request.json
    assert body["id"] == row.id
    assert body["event"] == "comment.published"
    assert body["created_at"] == row.payload["created_at"]
    assert body["comment"]["id"] == created["id"]
    assert body["comment"]["status"] == "approved"
    assert set(body["comment"]) == {
        "id",
        "article_id",
        "parent_id",
        "status",
        "author",
        "url",
        "content",
        "created_at",
    }

    header = request.headers["webhook-signature"]
    entries = header.split(" ")
    assert len(entries) == 2
    assert all(e.startswith("v1,") and len(base64.b64decode(e[3:])) == 32 for e in entries)
    headers = dict(request.headers.items())
    # Rotation: a receiver on the new secret and one still on the old one both accept it.
    assert webhooks.verify_signature(request.body, headers, [SECRETS[0]])
    assert webhooks.verify_signature(request.body, headers, [SECRETS[1]])
    assert webhooks.verify_signature(request.body, headers, SECRETS[0])
    assert not webhooks.verify_signature(request.body, headers, ["someone-else"])
    # The scheme's own library, as a receiver would use it, accepts it too.
    Webhook(SECRETS[0]).verify(request.body, headers)  # raises if it does not verify
    assert Webhook(SECRETS[1].encode()).verify(request.body, headers)["id"] == row.id
    # Nothing is due any more.
    assert deliver(hook_app, session).claimed == 0
    assert len(receiver.requests) == 1
    session.close()


def test_receiver_down_then_back_delivers_exactly_once(hook_app: Flask, receiver: Receiver) -> None:
    post(hook_app.test_client(), "A fair summary of the council vote.")
    session = session_of(hook_app)
    now = utcnow()
    receiver.down()
    report = deliver(hook_app, session, now=now)
    assert (report.delivered, report.retrying) == (0, 1)
    [row] = outbox(session)
    assert row.delivered_at is None
    assert row.attempts == 1
    assert row.next_attempt_at > now
    assert row.next_attempt_at == now + timedelta(seconds=2)
    assert "connection failed" in row.last_error

    receiver.up()  # back, on the same port
    assert deliver(hook_app, session, now=now + timedelta(seconds=1)).claimed == 0
    assert receiver.requests == []  # not due yet

    report = deliver(hook_app, session, now=now + timedelta(seconds=3))
    assert report.delivered == 1
    [row] = outbox(session)
    assert row.delivered_at == now + timedelta(seconds=3)
    assert row.attempts == 2
    for later in (10, 3600, 86400):
        assert deliver(hook_app, session, now=now + timedelta(seconds=later)).claimed == 0
    assert receiver.delivery_ids() == [row.id]
    session.close()


def test_errors_back_off_exponentially(hook_app: Flask, receiver: Receiver) -> None:
    post(hook_app.test_client(), "A fair summary of the council vote.")
    session = session_of(hook_app)
    receiver.status = 500
    now = utcnow()
    waits = []
    for _ in range(4):
        report = deliver(hook_app, session, now=now)
        assert report.retrying == 1
        [row] = outbox(session)
        waits.append((row.next_attempt_at - now).total_seconds())
        assert row.last_error == f"attempt {row.attempts}: HTTP 500"
        now = row.next_attempt_at
    assert waits == [2, 4, 8, 16]
    assert webhooks.backoff(30) == timedelta(hours=1)  # capped
    assert len(receiver.requests) == 4
    assert len(set(receiver.delivery_ids())) == 1  # the same event each time
    session.close()


def test_a_slow_receiver_times_out(make_app: Callable[..., Flask], receiver: Receiver) -> None:
    app = make_app(WEBHOOK_URL=receiver.url, WEBHOOK_SECRETS=SECRETS, WEBHOOK_TIMEOUT=0.3)
    post(app.test_client(), "A fair summary of the council vote.")
    session = session_of(app)
    receiver.delay = 2.0
    started = time.monotonic()
    report = deliver(app, session)
    assert time.monotonic() - started < 1.5
    assert report.retrying == 1
    [row] = outbox(session)
    assert row.last_error == "attempt 1: timed out after 0.3 s"
    session.close()


def test_events_survive_a_restart(
    make_app: Callable[..., Flask], hook_app: Flask, receiver: Receiver
) -> None:
    client = hook_app.test_client()
    post(client, "First, a fair summary.", n=1)
    post(client, "Second, a fair summary.", n=2)
    first_session = session_of(hook_app)
    receiver.down()
    now = utcnow()
    assert deliver(hook_app, first_session, now=now).retrying == 2
    first_session.close()

    # "Restart": a new app and session read the same outbox.
    receiver.up()
    restarted = make_app(WEBHOOK_URL=receiver.url, WEBHOOK_SECRETS=SECRETS)
    session = session_of(restarted)
    rows = outbox(session)
    assert [(r.attempts, r.delivered_at) for r in rows] == [(1, None), (1, None)]
    assert deliver(restarted, session, now=now + timedelta(seconds=5)).delivered == 2
    assert receiver.delivery_ids() == [r.id for r in rows]  # oldest first
    assert [r.json["comment"]["content"] for r in receiver.requests] == [
        "First, a fair summary.",
        "Second, a fair summary.",
    ]
    session.close()


def test_max_attempts_then_no_more_retries(
    make_app: Callable[..., Flask], receiver: Receiver
) -> None:
    app = make_app(WEBHOOK_URL=receiver.url, WEBHOOK_SECRETS=SECRETS, WEBHOOK_MAX_ATTEMPTS=3)
    post(app.test_client(), "A fair summary of the council vote.")
    session = session_of(app)
    receiver.status = 503
    now = utcnow()
    outcomes = []
    for hour in range(6):
        report = deliver(app, session, now=now + timedelta(hours=hour))
        outcomes.append((report.delivered, report.retrying, report.gave_up))
    assert outcomes == [(0, 1, 0), (0, 1, 0), (0, 0, 1), (0, 0, 0), (0, 0, 0), (0, 0, 0)]
    assert len(receiver.requests) == 3
    [row] = outbox(session)
    assert row.delivered_at is None
    assert row.attempts == 3
    assert row.last_error == "gave up after 3 attempts, no more retries; last: HTTP 503"
    assert webhooks.outbox_status(session, max_attempts=3) == {
        "pending": 0,
        "delivered": 0,
        "failed": 1,
    }

    # An operator sends the failed ones again once the receiver is fixed.
    receiver.status = 204
    assert webhooks.retry_failed(session, max_attempts=3, now=now + timedelta(hours=6)) == 1
    session.commit()
    assert deliver(app, session, now=now + timedelta(hours=6)).delivered == 1
    assert webhooks.outbox_status(session, max_attempts=3) == {
        "pending": 0,
        "delivered": 1,
        "failed": 0,
    }
    session.close()


def test_a_redirect_is_not_a_delivery(hook_app: Flask, receiver: Receiver) -> None:
    post(hook_app.test_client(), "A fair summary of the council vote.")
    session = session_of(hook_app)
    receiver.status = 307
    assert deliver(hook_app, session).retrying == 1
    assert outbox(session)[0].last_error == "attempt 1: HTTP 307"
    session.close()


def test_stopping_mid_batch_gives_the_rest_back(hook_app: Flask, receiver: Receiver) -> None:
    client = hook_app.test_client()
    for n in range(1, 4):
        post(client, f"Fair summary number {n}.", n=n)
    session = session_of(hook_app)
    now = utcnow()
    report = deliver(hook_app, session, now=now, should_stop=lambda: len(receiver.requests) >= 1)
    assert (report.claimed, report.delivered) == (3, 1)
    rows = outbox(session)
    assert [r.delivered_at is not None for r in rows] == [True, False, False]
    assert all(r.next_attempt_at <= now for r in rows[1:])  # due again at once, not leased
    assert deliver(hook_app, session, now=now).delivered == 2
    assert receiver.delivery_ids() == [r.id for r in rows]
    session.close()


# --------------------------------------------------------------------------- concurrency


@pytest.fixture
def committed_events(engine: Engine) -> Iterator[tuple[sessionmaker[Session], list[int]]]:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    now = utcnow() - timedelta(seconds=1)
    with factory() as session:
        rows = [
            WebhookEvent(
                event="comment.held",
                payload={"event": "comment.held", "created_at": now.isoformat(), "comment": {}},
                next_attempt_at=now,
                created_at=now,
            )
            for _ in range(40)
        ]
        session.add_all(rows)
        session.commit()
        ids = [r.id for r in rows]
    yield factory, ids
    with factory() as session:
        session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(ids)))
        session.commit()


def test_concurrent_deliverers_never_send_one_event_twice(
    committed_events: tuple[sessionmaker[Session], list[int]], receiver: Receiver
) -> None:
    factory, ids = committed_events
    workers = 4
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with factory() as session:
                barrier.wait(timeout=30)
                while True:
                    report = webhooks.deliver_due(
                        session, url=receiver.url, secrets=SECRETS, limit=3
                    )
                    if report.claimed == 0:
                        break
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    sent = receiver.delivery_ids()
    assert sorted(sent) == sorted(ids), "an event was sent twice or not at all"
    with factory() as session:
        undelivered = session.scalar(
            select(func.count())
            .select_from(WebhookEvent)
            .where(WebhookEvent.id.in_(ids), WebhookEvent.delivered_at.is_(None))
        )
    assert undelivered == 0


def test_a_locked_event_is_skipped_not_waited_for(
    committed_events: tuple[sessionmaker[Session], list[int]], receiver: Receiver
) -> None:
    factory, ids = committed_events
    with factory() as probe:
        if probe.get_bind().dialect.name != "postgresql":
            pytest.skip("SQLite has one writer at a time: there are no row locks to skip")
    with factory() as holder, factory() as other:
        # Another deliverer has taken the first ten in a transaction it has not finished.
        held = holder.scalars(
            select(WebhookEvent.id)
            .where(WebhookEvent.id.in_(ids))
            .order_by(WebhookEvent.id)
            .limit(10)
            .with_for_update(skip_locked=True)
        ).all()
        report = webhooks.deliver_due(other, url=receiver.url, secrets=SECRETS, limit=100)
        holder.rollback()
    assert report.delivered == len(ids) - 10
    assert set(receiver.delivery_ids()) == set(ids) - set(held)


# --------------------------------------------------------------------------- verification


def test_verify_signature_rejects_tampering_and_old_timestamps() -> None:
    body = b'{"id":1,"event":"comment.published"}'
    now = int(time.time())

    def signed(at: int = now, secrets: list[str] = SECRETS, **change: str) -> dict[str, str]:
        return {**webhooks.signed_headers("1", body, at, secrets), **change}

    assert webhooks.verify_signature(body, signed(), [SECRETS[1]])
    assert webhooks.verify_signature(body.decode(), signed(), [SECRETS[0]])
    assert not webhooks.verify_signature(body + b" ", signed(), SECRETS)  # tampered
    assert not webhooks.verify_signature(body.replace(b"1", b"2"), signed(), SECRETS)
    other_time = signed(**{"webhook-timestamp": str(now + 1)})
    assert not webhooks.verify_signature(body, other_time, SECRETS)
    assert not webhooks.verify_signature(body, signed(**{"webhook-id": "2"}), SECRETS)
    assert webhooks.verify_signature(body, signed(now - 290), SECRETS)
    assert not webhooks.verify_signature(body, signed(now - 301), SECRETS)  # too old
    assert not webhooks.verify_signature(body, signed(now + 3600), SECRETS)  # from the future
    assert not webhooks.verify_signature(body, signed(**{"webhook-timestamp": "soon"}), SECRETS)
    assert not webhooks.verify_signature(body, signed(**{"webhook-signature": ""}), SECRETS)
    single = signed(secrets=[SECRETS[0]])
    assert webhooks.verify_signature(body, single, SECRETS)
    v0 = "v0," + single["webhook-signature"][3:]
    assert not webhooks.verify_signature(body, {**single, "webhook-signature": v0}, SECRETS)
    garbled = {**single, "webhook-signature": "v1"}
    assert not webhooks.verify_signature(body, garbled, SECRETS)
    assert not webhooks.verify_signature(body, signed(), [])
    assert not webhooks.verify_signature(body, signed(), ["wrong"])
    assert "webhook-signature" not in webhooks.signed_headers("1", body, now, [])


def test_new_secrets_are_the_schemes_and_distinct() -> None:
    first, second = webhooks.new_secret(), webhooks.new_secret()
    assert first != second
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    body = b"{}"
    headers = webhooks.signed_headers("7", body, int(time.time()), [first])
    Webhook(first).verify(body, headers)


# --------------------------------------------------------------------------- configuration


def test_a_webhook_url_needs_a_secret_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MODERATION_"):
            monkeypatch.delenv(name)
    base = {"SECRET_KEY": "x", "WEBHOOK_URL": "https://news.example/hooks"}
    with pytest.raises(ConfigError, match="MODERATION_WEBHOOK_SECRETS is required"):
        load_config(Flask("t"), base)
    app = Flask("t")
    monkeypatch.setenv("MODERATION_WEBHOOK_SECRETS", "new,old")
    load_config(app, base)
    assert app.config["WEBHOOK_SECRETS"] == ["new", "old"]
    assert app.config["WEBHOOK_TIMEOUT"] == 5.0
    assert app.config["WEBHOOK_MAX_ATTEMPTS"] == 20
    monkeypatch.setenv("MODERATION_WEBHOOK_SECRETS", "123456")  # read as a JSON number
    load_config(app, base)
    assert app.config["WEBHOOK_SECRETS"] == ["123456"]
    monkeypatch.delenv("MODERATION_WEBHOOK_SECRETS")
    with pytest.raises(ConfigError, match="http"):
        load_config(Flask("t"), {**base, "WEBHOOK_URL": "ftp://news.example/"})
    quiet = Flask("t")
    load_config(quiet, {"SECRET_KEY": "x"})
    assert quiet.config["WEBHOOK_URL"] is None
    assert quiet.config["WEBHOOK_SECRETS"] == []
    dev = Flask("t")
    load_config(dev, {**base, "ENV": "development"})  # unsigned is allowed outside production
    assert dev.config["WEBHOOK_SECRETS"] == []


def test_a_scheme_secret_that_does_not_decode_stops_the_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.startswith("MODERATION_"):
            monkeypatch.delenv(name)
    base = {"SECRET_KEY": "x", "WEBHOOK_URL": "https://news.example/hooks"}
    # The example file's placeholder, a typo outside base64, and a key too short to sign with.
    for bad in ("whsec_...", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS-", "whsec_c2hvcnQ="):
        with pytest.raises(ConfigError, match=r"MODERATION_WEBHOOK_SECRETS: .*whsec_"):
            load_config(Flask("t"), {**base, "WEBHOOK_SECRETS": ["good-plain-secret", bad]})
        with pytest.raises(ValueError, match="whsec_"):
            webhooks.key_of(bad)
    app = Flask("t")
    load_config(app, {**base, "WEBHOOK_SECRETS": [SECRETS[0], "plain"]})
    assert app.config["WEBHOOK_SECRETS"] == [SECRETS[0], "plain"]


# --------------------------------------------------------------------------- the CLI


@pytest.mark.slow
def test_cli_delivers_from_a_sqlite_file(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'service.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATION_")}
    env.update(
        MODERATION_DATABASE_URL=url,
        MODERATION_SECRET_KEY="cli-test-secret",
        MODERATION_WEBHOOK_URL=receiver.url,
        MODERATION_WEBHOOK_SECRETS=",".join(SECRETS),
        MODERATION_SCORER_BACKEND="fixed",
        MODERATION_RATELIMIT_ENABLED="false",
        MODERATION_FLOOD_SECONDS="0",
    )
    moderation = str(Path(sys.executable).parent / "moderation")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [moderation, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    assert run("db", "upgrade").returncode == 0
    for name in list(os.environ):
        if name.startswith("MODERATION_"):
            monkeypatch.delenv(name)
    for key, value in env.items():
        if key.startswith("MODERATION_"):
            monkeypatch.setenv(key, value)
    service = create_app(
        {"FIXED_SCORES": {"spam": 0.01, "abuse": 0.01}, "REQUIRE_FORM_TOKEN": False}
    )
    post(service.test_client(), "A fair summary of the council vote.", n=1)

    receiver.down()
    failed = run("webhooks", "deliver", "--once")
    assert failed.returncode == 0, failed.stderr
    assert "delivered 0, to retry 1, given up 0" in failed.stdout
    status = run("webhooks", "status")
    assert status.stdout.split("\n")[:3] == ["pending: 1", "delivered: 0", "failed: 0"]

    receiver.up()
    time.sleep(2.2)  # the first retry waits 2 s
    delivered = run("webhooks", "deliver", "--once")
    assert delivered.returncode == 0, delivered.stderr
    assert "delivered 1, to retry 0, given up 0" in delivered.stdout
    [request] = receiver.requests
    headers = request.headers
    for secret in SECRETS:
        assert webhooks.verify_signature(request.body, dict(headers.items()), [secret])
    assert request.json["event"] == "comment.published"

    # The long-running deliverer picks up new events and stops cleanly on SIGTERM.
    loop = subprocess.Popen(
        [moderation, "webhooks", "deliver", "--interval", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        post(service.test_client(), "Another fair summary.", n=2)
        deadline = time.monotonic() + 30
        while len(receiver.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(receiver.requests) == 2
        assert receiver.requests[1].json["comment"]["content"] == "Another fair summary."
    finally:
        loop.send_signal(signal.SIGTERM)
        out, err = loop.communicate(timeout=20)
    assert loop.returncode == 0, err
    assert "delivered 1, to retry 0, given up 0" in out
    status = run("webhooks", "status")
    assert status.stdout.split("\n")[:3] == ["pending: 0", "delivered: 2", "failed: 0"]
    secret = run("webhooks", "new-secret")
    assert secret.returncode == 0, secret.stderr
    Webhook(secret.stdout.strip())  # the scheme's library takes it as a secret
    assert secret.stdout.startswith("whsec_")
    db.get_engine(service).dispose()


def test_verify_signature_refuses_absurd_timestamps() -> None:
    # Each correctly signed: only the timestamp can refuse it.
    for timestamp in ("9" * 400, "-5", "1e400", "nan", str(int(time.time()) - 3600)):
        digest = hmac.new(b"s", f"1.{timestamp}.{{}}".encode(), hashlib.sha256).digest()
        headers = {
            "webhook-id": "1",
            "webhook-timestamp": timestamp,
            "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        }
        assert not webhooks.verify_signature(b"{}", headers, ["s"]), timestamp
        fresh = {**headers, "webhook-timestamp": str(int(time.time()))}
        digest = hmac.new(b"s", f"1.{fresh['webhook-timestamp']}.{{}}".encode(), hashlib.sha256)
        fresh["webhook-signature"] = "v1," + base64.b64encode(digest.digest()).decode()
        assert webhooks.verify_signature(b"{}", fresh, ["s"])  # the same, signed now
