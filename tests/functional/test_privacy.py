"""Privacy: old request metadata is erased, one person's data is erased or exported on request,
delivered webhook events are pruned, and the service's own hourly purge never fails a request.

The service functions run on SQLite and PostgreSQL (``db_session``); the commands on a
committed SQLite file, as cron and an operator would run them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import stat
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import Column, Integer, MetaData, Table, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from moderation import create_app
from moderation.cli import main
from moderation.domain.policy import Status
from moderation.services import privacy, webhooks
from moderation.services.feedback import record_label
from moderation.storage.db import utcnow
from moderation.storage.tables import (
    Comment,
    DecisionRecord,
    FeedbackLabel,
    Prediction,
    WebhookEvent,
)
from moderation.web import retention
from moderation.web.database import get_session
from tests.factories import make_comment

pytestmark = pytest.mark.functional

NOW = utcnow()
OLD = NOW - timedelta(days=31)  # past the 30-day retention
RECENT = NOW - timedelta(days=29)


# --------------------------------------------------------------------------- helpers


def event_about(
    session: Session, comment: Comment, *, delivered_at: datetime | None, created_at: datetime
) -> WebhookEvent:
    """An outbox row about ``comment``, made as the service makes them."""
    event_id = webhooks.enqueue(session, webhooks.PUBLISHED, comment, now=created_at, enabled=True)
    row = session.get(WebhookEvent, event_id)
    assert row is not None
    row.delivered_at = delivered_at
    session.flush()
    return row


def columns(obj: Any) -> dict[str, Any]:
    """Every column value of a row, as stored."""
    return {a.key: getattr(obj, a.key) for a in sa_inspect(type(obj)).column_attrs}


def snapshot(session: Session) -> dict[tuple[str, int], dict[str, Any]]:
    """Every row of the tables privacy touches, read afresh from the database."""
    session.expire_all()
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    models: tuple[type[Any], ...] = (
        Comment,
        Prediction,
        DecisionRecord,
        FeedbackLabel,
        WebhookEvent,
    )
    for model in models:
        found: list[Any] = list(session.scalars(select(model)))
        for obj in found:
            rows[(model.__tablename__, int(obj.id))] = columns(obj)
    return rows


def belongs_to(rows: dict[tuple[str, int], dict[str, Any]], comment_ids: set[int]) -> set[Any]:
    """The keys of ``rows`` that are about these comments."""
    keys = set()
    for (table, row_id), values in rows.items():
        about = {
            "comments": row_id,
            "predictions": values.get("comment_id"),
            "decisions": values.get("comment_id"),
            "webhook_events": (values.get("payload") or {}).get("comment", {}).get("id"),
        }.get(table)
        if about in comment_ids:
            keys.add((table, row_id))
    return keys


@pytest.fixture
def people(db_session: Session) -> dict[str, Any]:
    """Ann (two comments, a label, events delivered and not) and Bob (the same, untouched)."""
    ann1 = make_comment(
        db_session,
        author="Ann",
        email="ann@example.org",
        url="https://ann.example",
        content="Ann's first comment.",
        ip="192.0.2.10",
        user_agent="Ann's browser",
        referrer="https://news.example/a",
        created_at=OLD,
    )
    ann2 = make_comment(
        db_session,
        author="Ann",
        email="ann@example.org",
        content="Ann's second comment, from home.",
        ip="198.51.100.7",
        user_agent="Ann's phone",
        status=Status.SPAM,
    )
    ann2.decisions.append(
        DecisionRecord(
            actor="system",
            status=Status.SPAM,
            reasons=[
                {"code": "blocked_email", "detail": "ann@example.org"},
                {"code": "model_clear", "detail": "spam 0.010, abuse 0.010"},
            ],
        )
    )
    ann2.decisions.append(
        DecisionRecord(
            actor="mod",
            status=Status.SPAM,
            reasons=[
                {"code": "moderator", "detail": "reject_spam by mod"},
                {"code": "moderator_reason", "detail": "Ann again, see 192.0.2.10"},
            ],
        )
    )
    bob = make_comment(
        db_session,
        author="Bob",
        email="bob@example.org",
        url="https://bob.example",
        content="Bob's comment.",
        ip="203.0.113.5",
        user_agent="Bob's browser",
        referrer="https://news.example/b",
        parent_id=ann1.id,  # a reply to Ann: the thread must survive her erasure
    )
    bob.decisions.append(
        DecisionRecord(
            actor="system",
            status=Status.APPROVED,
            reasons=[{"code": "blocked_domain", "detail": "bob.example"}],
        )
    )
    # Held comments keep the words that held them, with their places in the text.
    for comment, word in ((ann2, "home"), (bob, "comment")):
        start = comment.content.index(word)
        comment.predictions[0].explanation = {
            "abuse": [
                {"feature": word, "label": word, "weight": 1.0, "spans": [[start, start + 4]]}
            ]
        }
    db_session.flush()
    ann_pending = event_about(db_session, ann1, delivered_at=None, created_at=NOW)
    ann_delivered = event_about(db_session, ann2, delivered_at=NOW, created_at=NOW)
    bob_pending = event_about(db_session, bob, delivered_at=None, created_at=NOW)
    bob_delivered = event_about(db_session, bob, delivered_at=NOW, created_at=NOW)
    ann_label = record_label(
        db_session,
        source="akismet",
        site=None,
        content="Ann's labelled text",
        email="ANN@Example.org",
    )
    bob_label = record_label(
        db_session,
        source="akismet",
        site=None,
        content="Bob's labelled text",
        email="bob@example.org",
    )
    db_session.commit()
    return {
        "ann": [ann1.id, ann2.id],
        "bob": bob.id,
        "ann_pending": ann_pending.id,
        "ann_delivered": ann_delivered.id,
        "bob_events": [bob_pending.id, bob_delivered.id],
        "ann_label": ann_label.id,
        "bob_label": bob_label.id,
    }


def assert_erased(session: Session, comment_id: int, status: Status) -> None:
    session.expire_all()
    comment = session.get(Comment, comment_id)
    assert comment is not None  # kept: threads and statistics stay consistent
    assert comment.author == privacy.ERASED
    assert comment.content == privacy.ERASED
    assert comment.email == f"erased-{comment_id}@invalid"
    assert (comment.url, comment.ip, comment.user_agent, comment.referrer) == ("", "", "", "")
    assert comment.duplicate_key == hashlib.sha256(f"erased:{comment_id}".encode()).hexdigest()
    assert comment.status == status
    assert comment.predictions  # the scores stay
    assert comment.decisions


# --------------------------------------------------------------------------- purge


def test_purge_blanks_old_request_metadata_and_keeps_new(db_session: Session) -> None:
    old = make_comment(db_session, ip="192.0.2.1", user_agent="UA", referrer="R", created_at=OLD)
    only_referrer = make_comment(db_session, ip="", user_agent="", referrer="R", created_at=OLD)
    already = make_comment(db_session, ip="", user_agent="", referrer="", created_at=OLD)
    new = make_comment(
        db_session, ip="192.0.2.2", user_agent="UA2", referrer="R2", created_at=RECENT
    )
    db_session.commit()
    old_updated = old.updated_at

    report = privacy.purge(db_session, now=NOW, retention_days=30, webhook_retention_days=7)
    db_session.commit()

    assert report.comments == 2  # the one already blank is not counted
    assert report.complete
    db_session.expire_all()
    for comment in (old, only_referrer, already):
        assert (comment.ip, comment.user_agent, comment.referrer) == ("", "", "")
    assert old.author.startswith("Reader")  # nothing else changes
    assert old.content.startswith("A civil comment")
    assert old.updated_at == old_updated
    assert (new.ip, new.user_agent, new.referrer) == ("192.0.2.2", "UA2", "R2")
    again = privacy.purge(db_session, now=NOW, retention_days=30, webhook_retention_days=7)
    assert again.comments == 0


def test_purge_in_bounded_batches_reaches_every_row(db_session: Session) -> None:
    ids = [make_comment(db_session, ip=f"192.0.2.{i}", created_at=OLD).id for i in range(5)]
    db_session.commit()
    first = privacy.purge(
        db_session, now=NOW, retention_days=30, webhook_retention_days=7, batch_size=2, max_rows=3
    )
    assert (first.comments, first.complete) == (3, False)
    rest = privacy.purge(
        db_session, now=NOW, retention_days=30, webhook_retention_days=7, batch_size=2
    )
    assert (rest.comments, rest.complete) == (2, True)
    db_session.expire_all()
    ips = db_session.scalars(select(Comment.ip).where(Comment.id.in_(ids))).all()
    assert ips == [""] * len(ids)


def test_purge_with_zero_days_keeps_everything(db_session: Session) -> None:
    comment = make_comment(db_session, ip="192.0.2.1", created_at=NOW - timedelta(days=3650))
    event_about(db_session, comment, delivered_at=NOW - timedelta(days=3650), created_at=OLD)
    report = privacy.purge(db_session, now=NOW, retention_days=0, webhook_retention_days=0)
    assert report.counts() == {"comments": 0, "webhook_events": 0}
    db_session.expire_all()
    assert comment.ip == "192.0.2.1"
    assert db_session.scalar(select(WebhookEvent.id)) is not None


def test_purge_deletes_only_webhook_events_delivered_before_the_period(
    db_session: Session,
) -> None:
    comment = make_comment(db_session)
    old_delivered = event_about(
        db_session,
        comment,
        delivered_at=NOW - timedelta(days=8),
        created_at=NOW - timedelta(days=8),
    )
    recent_delivered = event_about(
        db_session,
        comment,
        delivered_at=NOW - timedelta(days=6),
        created_at=NOW - timedelta(days=6),
    )
    old_undelivered = event_about(db_session, comment, delivered_at=None, created_at=OLD)
    given_up = event_about(db_session, comment, delivered_at=None, created_at=OLD)
    given_up.attempts = 20
    db_session.commit()
    kept = {recent_delivered.id, old_undelivered.id, given_up.id}

    report = privacy.purge(db_session, now=NOW, retention_days=30, webhook_retention_days=7)
    db_session.commit()

    assert report.webhook_events == 1
    remaining = set(db_session.scalars(select(WebhookEvent.id)))
    assert old_delivered.id not in remaining
    assert kept <= remaining


# --------------------------------------------------------------------------- erase


def test_erase_by_email_anonymises_everything_of_that_person_and_nothing_else(
    db_session: Session, people: dict[str, Any]
) -> None:
    before = snapshot(db_session)
    ann = set(people["ann"])

    report = privacy.erase(db_session, email="  ANN@example.ORG ")
    db_session.commit()

    assert report.counts() == {
        "comments": 2,
        "decisions": 2,  # the block-list detail and the moderator's note
        "feedback_labels": 1,
        "webhook_events_rewritten": 1,
        "webhook_events_deleted": 1,
    }
    assert_erased(db_session, people["ann"][0], Status.APPROVED)
    assert_erased(db_session, people["ann"][1], Status.SPAM)
    for comment_id in ann:
        comment = db_session.get(Comment, comment_id)
        assert comment is not None
        assert comment.version == before[("comments", comment_id)]["version"] + 1
    reasons = [
        r
        for d in db_session.scalars(
            select(DecisionRecord).where(DecisionRecord.comment_id.in_(ann))
        )
        for r in d.reasons
    ]
    assert {"code": "blocked_email", "detail": privacy.ERASED} in reasons
    assert {"code": "moderator_reason", "detail": privacy.ERASED} in reasons
    assert {"code": "model_clear", "detail": "spam 0.010, abuse 0.010"} in reasons
    dumped = json.dumps(reasons)
    assert "ann@example.org" not in dumped
    assert "192.0.2.10" not in dumped
    pending = db_session.get(WebhookEvent, people["ann_pending"])
    assert pending is not None
    assert pending.delivered_at is None
    assert pending.payload["comment"]["id"] == people["ann"][0]
    assert pending.payload["comment"]["author"] == privacy.ERASED
    assert pending.payload["comment"]["content"] == privacy.ERASED
    assert pending.payload["comment"]["url"] == ""
    assert db_session.get(WebhookEvent, people["ann_delivered"]) is None
    assert db_session.get(FeedbackLabel, people["ann_label"]) is None
    explanations = db_session.scalars(
        select(Prediction.explanation).where(Prediction.comment_id.in_(ann))
    ).all()
    assert explanations == [None, None]  # the words of her text are gone with it

    # Bob's rows, and every row not about Ann, are exactly as they were.
    after = snapshot(db_session)
    changed_keys = belongs_to(before, ann) | {("feedback_labels", people["ann_label"])}
    for key, values in before.items():
        if key not in changed_keys:
            assert after[key] == values, key
    bob = db_session.get(Comment, people["bob"])
    assert bob is not None
    assert (bob.author, bob.email, bob.ip) == ("Bob", "bob@example.org", "203.0.113.5")
    assert bob.parent_id == people["ann"][0]  # the reply still hangs under the erased comment

    # Erasing again finds nothing left.
    assert privacy.erase(db_session, email="ann@example.org").counts() == dict.fromkeys(
        report.counts(), 0
    )


def test_erase_by_ip_anonymises_the_comments_from_it_only(
    db_session: Session, people: dict[str, Any]
) -> None:
    before = snapshot(db_session)
    first, second = people["ann"]

    report = privacy.erase(db_session, ip="192.0.2.10")
    db_session.commit()

    assert report.comments == 1
    assert report.decisions == 0  # the first comment's decisions name no one
    assert report.webhook_events_rewritten == 1
    assert report.webhook_events_deleted == 0
    assert report.feedback_labels == 0  # labels hold no IP address, and emails are not chased
    assert_erased(db_session, first, Status.APPROVED)
    after = snapshot(db_session)
    for key, values in before.items():
        if key not in belongs_to(before, {first}):
            assert after[key] == values, key
    untouched = db_session.get(Comment, second)  # Ann's comment from another address
    assert untouched is not None
    assert untouched.email == "ann@example.org"
    assert db_session.get(FeedbackLabel, people["ann_label"]) is not None


def test_erase_needs_an_email_or_an_ip(db_session: Session) -> None:
    blank = make_comment(db_session, ip="", email="someone@example.org")
    for given in ({}, {"email": "  ", "ip": ""}, {"email": None, "ip": "   "}):
        with pytest.raises(ValueError, match="email address or an IP"):
            privacy.erase(db_session, **given)
    db_session.expire_all()
    assert blank.author.startswith("Reader")  # a blank IP never matches the blank ones


# --------------------------------------------------------------------------- export


def test_export_holds_the_persons_data_and_nothing_of_others(
    db_session: Session, people: dict[str, Any]
) -> None:
    data = privacy.export(db_session, email="Ann@Example.org")
    text = json.dumps(data)  # JSON-serialisable as it is

    assert data["email"] == "ann@example.org"
    assert [c["id"] for c in data["comments"]] == people["ann"]
    first, second = data["comments"]
    assert "duplicate_key" not in first
    assert first["author"] == "Ann"
    assert first["content"] == "Ann's first comment."
    assert first["ip"] == "192.0.2.10"
    assert first["user_agent"] == "Ann's browser"
    assert first["referrer"] == "https://news.example/a"
    assert first["status"] == "approved"
    assert datetime.fromisoformat(first["created_at"]) == OLD
    assert [p["model_version"] for p in first["predictions"]] == ["fixed"]
    assert len(second["decisions"]) == 3
    assert second["decisions"][1]["reasons"][0] == {
        "code": "blocked_email",
        "detail": "ann@example.org",
    }
    assert [label["id"] for label in data["feedback_labels"]] == [people["ann_label"]]
    assert data["feedback_labels"][0]["content"] == "Ann's labelled text"
    assert {e["id"] for e in data["webhook_events"]} == {
        people["ann_pending"],
        people["ann_delivered"],
    }
    assert all(e["payload"]["comment"]["author"] == "Ann" for e in data["webhook_events"])
    for other in ("Bob", "bob@example.org", "203.0.113.5", "Bob's labelled text"):
        assert other not in text
    assert privacy.export(db_session, email="nobody@example.org")["comments"] == []


# --------------------------------------------------------------------------- the hourly hook


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hooked(make_app: Callable[..., Flask]) -> tuple[Flask, Clock]:
    app = make_app()
    clock = Clock()
    retention.init_app(app, clock=clock)  # idempotent when create_app registers it already
    return app, clock


@pytest.fixture
def retention_log() -> Iterator[list[logging.LogRecord]]:
    """The records of the ``moderation.web.retention`` logger (which does not propagate)."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(level=logging.DEBUG)
    logger = logging.getLogger("moderation.retention")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def answered(response: TestResponse) -> int:
    """The status, after the response is closed, as the server closes it once it is sent."""
    response.close()
    return response.status_code


def old_comment(session: Session, n: int) -> int:
    comment = make_comment(session, ip=f"192.0.2.{n}", user_agent="UA", created_at=OLD)
    session.commit()
    return comment.id


def ip_of(session: Session, comment_id: int) -> str:
    session.expire_all()
    return session.scalars(select(Comment.ip).where(Comment.id == comment_id)).one()


def test_the_service_purges_at_most_hourly(
    hooked: tuple[Flask, Clock], db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, clock = hooked
    calls: list[datetime] = []
    real = privacy.purge

    def counting(session: Session, **kwargs: Any) -> privacy.PurgeReport:
        calls.append(kwargs["now"])
        return real(session, **kwargs)

    monkeypatch.setattr(privacy, "purge", counting)
    client = app.test_client()
    first = old_comment(db_session, 1)

    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert calls == []  # not while the answer is being made
    response.close()  # what the server does once the answer is sent
    assert len(calls) == 1
    assert ip_of(db_session, first) == ""  # done in its own committed transaction

    second = old_comment(db_session, 2)
    clock.now += 3599
    for _ in range(3):
        assert answered(client.get("/openapi.json")) == 200
    assert len(calls) == 1
    assert ip_of(db_session, second) == "192.0.2.2"  # not yet: within the hour

    clock.now += 2
    assert answered(client.get("/openapi.json")) == 200
    assert len(calls) == 2
    assert ip_of(db_session, second) == ""

    clock.now += 7200
    assert answered(client.get("/healthz")) == 200  # probes never wait for a purge
    assert len(calls) == 2


def test_the_hook_is_off_with_zero_retention_days(
    make_app: Callable[..., Flask], db_session: Session
) -> None:
    app = make_app(RETENTION_DAYS=0)
    clock = Clock()
    retention.init_app(app, clock=clock)
    comment_id = old_comment(db_session, 3)
    client = app.test_client()
    for _ in range(2):
        assert answered(client.get("/openapi.json")) == 200
        clock.now += 7200
    assert ip_of(db_session, comment_id) == "192.0.2.3"
    assert app.extensions[retention.EXTENSION].runs == 0


def test_a_failing_purge_never_fails_a_request(
    hooked: tuple[Flask, Clock],
    db_session: Session,
    monkeypatch: pytest.MonkeyPatch,
    retention_log: list[logging.LogRecord],
) -> None:
    app, clock = hooked
    missing = Table("no_such_table", MetaData(), Column("id", Integer))
    calls: list[int] = []

    def broken(session: Session, **_: Any) -> privacy.PurgeReport:
        calls.append(1)
        # A real database error (the transaction is aborted on PostgreSQL), with a person's
        # address in the exception's message, which must stay out of the log.
        try:
            session.execute(select(missing.c.id))
        except Exception as exc:
            raise RuntimeError("purge of ann@example.org failed") from exc
        raise AssertionError("the table exists?")

    monkeypatch.setattr(privacy, "purge", broken)
    client = app.test_client()
    response = client.post(
        "/comments",
        json={
            "content": "Still answered.",
            "name": "Ann",
            "email": "ann@example.org",
            "article_id": "7",
        },
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    response.close()
    assert len(calls) == 1
    errors = [r for r in retention_log if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "RuntimeError" in errors[0].getMessage()
    assert "ann@example.org" not in errors[0].getMessage()
    assert errors[0].exc_info is None
    # The request's own work was committed, on the same database the purge failed on.
    db_session.expire_all()
    stored = db_session.scalars(select(Comment).where(Comment.content == "Still answered.")).one()
    assert stored.email == "ann@example.org"

    # Not retried on every request: the next attempt is an hour later.
    assert answered(client.get("/openapi.json")) == 200
    assert len(calls) == 1
    clock.now += 3601
    assert answered(client.get("/openapi.json")) == 200
    assert len(calls) == 2


def test_a_stalled_purge_is_cut_off_by_a_deadline_of_its_own(
    make_app: Callable[..., Flask],
    monkeypatch: pytest.MonkeyPatch,
    retention_log: list[logging.LogRecord],
) -> None:
    # After the answer the request's deadline is disarmed; the purge runs under its own.
    app = make_app(REQUEST_DEADLINE_SECONDS=0.5)
    retention.init_app(app, clock=Clock())

    def stalled(session: Session, **_: Any) -> privacy.PurgeReport:
        time.sleep(30)  # a database that stopped answering
        raise AssertionError("not cut off")

    monkeypatch.setattr(privacy, "purge", stalled)
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    started = time.monotonic()
    response.close()
    assert time.monotonic() - started < 5
    errors = [r.getMessage() for r in retention_log if r.levelno >= logging.ERROR]
    assert errors == ["retention purge failed: DeadlineExceededError"]


# --------------------------------------------------------------------------- the commands


def committed(build: Callable[[Session], Any]) -> Any:
    """Run ``build`` on the configured database and commit."""
    with create_app({"SCORER_BACKEND": "fixed"}).app_context():
        session = get_session()
        result = build(session)
        session.commit()
        return result


def read(query: Callable[[Session], Any]) -> Any:
    with create_app({"SCORER_BACKEND": "fixed"}).app_context():
        return query(get_session())


def test_every_privacy_option_has_help() -> None:
    for name in ("purge", "erase", "export"):
        command = main.commands[name]
        assert command.help
        for param in command.params:
            if isinstance(param, click.Option) and param.name != "help":
                assert param.help, f"{name} {param.name}"


def test_purge_command(cli_database: str) -> None:
    def build(session: Session) -> tuple[int, int]:
        old = make_comment(session, ip="192.0.2.1", created_at=OLD)
        make_comment(session, ip="192.0.2.2", created_at=RECENT)
        event_about(
            session, old, delivered_at=NOW - timedelta(days=8), created_at=NOW - timedelta(days=8)
        )
        event_about(session, old, delivered_at=None, created_at=OLD)
        return old.id, 0

    old_id, _ = committed(build)
    runner = CliRunner()
    longer = runner.invoke(main, ["purge", "--days", "60", "--webhook-days", "30"])
    assert longer.exit_code == 0, longer.output
    assert "comments: 0" in longer.output
    assert "older than 60 days" in longer.output
    assert "webhook_events: 0" in longer.output

    result = runner.invoke(main, ["purge"])
    assert result.exit_code == 0, result.output
    assert "comments: 1 (IP address, user agent and referrer erased; older than 30 days)" in (
        result.output
    )
    assert "webhook_events: 1 (deleted; delivered more than 7 days ago)" in result.output
    assert read(lambda s: s.scalars(select(Comment.ip).where(Comment.id == old_id)).one()) == ""
    assert read(lambda s: sorted(s.scalars(select(Comment.ip)))) == ["", "192.0.2.2"]
    assert read(lambda s: len(s.scalars(select(WebhookEvent.id)).all())) == 1
    assert runner.invoke(main, ["purge", "--days", "0"]).exit_code != 0


def test_erase_command(cli_database: str) -> None:
    def build(session: Session) -> tuple[int, int]:
        ann = make_comment(session, author="Ann", email="ann@example.org", ip="192.0.2.10")
        bob = make_comment(session, author="Bob", email="bob@example.org", ip="203.0.113.5")
        event_about(session, ann, delivered_at=None, created_at=NOW)
        record_label(
            session, source="akismet", site=None, content="ann text", email="ann@example.org"
        )
        return ann.id, bob.id

    ann_id, bob_id = committed(build)
    runner = CliRunner()
    refused = runner.invoke(main, ["erase"])
    assert refused.exit_code == 2
    assert "give --email ADDRESS, --ip ADDRESS or both" in refused.output

    result = runner.invoke(main, ["erase", "--email", "Ann@example.org"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "comments: 1 anonymised",
        "decisions: 0 with personal details erased",
        "feedback_labels: 1 deleted",
        "webhook_events: 1 rewritten (undelivered), 0 deleted (delivered)",
    ]
    ann = read(lambda s: columns(s.get(Comment, ann_id)))
    assert (ann["author"], ann["email"], ann["ip"]) == (
        privacy.ERASED,
        f"erased-{ann_id}@invalid",
        "",
    )
    bob = read(lambda s: columns(s.get(Comment, bob_id)))
    assert (bob["author"], bob["email"], bob["ip"]) == ("Bob", "bob@example.org", "203.0.113.5")
    assert read(lambda s: s.scalars(select(FeedbackLabel.id)).all()) == []

    by_ip = runner.invoke(main, ["erase", "--ip", "203.0.113.5"])
    assert by_ip.exit_code == 0, by_ip.output
    assert "comments: 1 anonymised" in by_ip.output
    assert read(lambda s: columns(s.get(Comment, bob_id))["author"]) == privacy.ERASED


def test_export_command(cli_database: str, tmp_path: Path) -> None:
    def build(session: Session) -> int:
        ann = make_comment(session, author="Ann", email="ann@example.org", content="Mine.")
        make_comment(session, author="Bob", email="bob@example.org", content="Not hers.")
        return ann.id

    ann_id = committed(build)
    runner = CliRunner()
    printed = runner.invoke(main, ["export", "--email", "ann@example.org"])
    assert printed.exit_code == 0, printed.output
    data = json.loads(printed.stdout)
    assert [c["id"] for c in data["comments"]] == [ann_id]
    assert data["comments"][0]["content"] == "Mine."
    assert data["comments"][0]["decisions"][0]["actor"] == "system"
    assert "Not hers." not in printed.stdout

    out = tmp_path / "ann.json"
    written = runner.invoke(main, ["export", "--email", "ann@example.org", "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert json.loads(out.read_text(encoding="utf-8"))["comments"] == data["comments"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # personal data: the owner's eyes only
    assert runner.invoke(main, ["export"]).exit_code == 2  # --email is required
