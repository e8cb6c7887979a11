"""Requests with the production transaction handling.

Each test's app commits to a database of its own, with no outer test transaction and no
savepoints (see ``make_real_app``), so SQLite's ``BEGIN IMMEDIATE`` / ``DEFERRED`` choice and the
views' rollbacks run as they do in production. What a refused request leaves behind is read
afterwards on a connection of its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text, update
from werkzeug.test import TestResponse

from moderation.services.moderators import create_token
from moderation.services.scoring import DEFAULT_FIXED_THRESHOLDS, FixedScorer, Scorer
from moderation.storage.tables import Comment, Report
from moderation.web.database import get_engine
from tests.factories import make_comment, make_moderator

pytestmark = pytest.mark.functional

TABLES = ("comments", "predictions", "decisions", "form_token_uses", "webhook_events", "reports")
EMPTY = dict.fromkeys(TABLES, 0)


def committed(app: Flask) -> dict[str, int]:
    """Rows per table as committed, read outside any request."""
    engine = get_engine(app).execution_options(sqlite_begin="DEFERRED")
    with engine.connect() as connection:
        return {
            table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in TABLES
        }


def payload(**overrides: Any) -> dict[str, Any]:
    return {
        "comment": "The council should publish the full report before the vote.",
        "author": "Maria Lopez",
        "email": "maria@example.org",
        "comment_post_ID": "42",
        **overrides,
    }


def form_token(client: FlaskClient) -> str:
    token: str = client.get("/comments/form-token").json["token"]
    return token


class RacingScorer(FixedScorer):
    """The fixed scorer, which lets a competing request in while the first one is scored
    (after its duplicate and token checks, before its writes): a double click that wins."""

    def __init__(self, race: Callable[[], None]) -> None:
        super().__init__({"spam": 0.01, "abuse": 0.01}, DEFAULT_FIXED_THRESHOLDS)
        self._race: Callable[[], None] | None = race

    def score_many(self, comments: Sequence[Any]) -> list[dict[str, float]]:
        race, self._race = self._race, None
        if race is not None:
            race()
        return super().score_many(comments)


def use_scorer(app: Flask, scorer: Scorer) -> None:
    app.extensions["moderation.scorer"].scorer = scorer


@pytest.mark.parametrize("second", ["the same comment", "another comment with the same form token"])
def test_a_duplicate_that_loses_the_race_is_409_and_rolled_back(
    make_real_app: Callable[..., Flask], second: str
) -> None:
    app = make_real_app(FLOOD_SECONDS=0, WEBHOOK_URL="http://127.0.0.1:9/hook")
    client = app.test_client()
    token = form_token(client)
    first = payload(form_token=token)
    raced = (
        first
        if second == "the same comment"
        else payload(comment="Another remark.", form_token=token)
    )
    answers: list[TestResponse] = []
    use_scorer(app, RacingScorer(lambda: answers.append(client.post("/comments", json=raced))))
    loser = client.post("/comments", json=first)
    assert [a.status_code for a in answers] == [201]
    assert loser.status_code == 409, loser.json
    assert loser.json["error"] == "comment_duplicate"
    # Only the winner's rows: the loser's comment (written before its token on SQLite) is gone.
    assert committed(app) == {
        **EMPTY,
        "comments": 1,
        "predictions": 1,
        "decisions": 1,
        "form_token_uses": 1,
        "webhook_events": 1,
    }
    stored = client.get(f"/comments/{answers[0].json['id']}").json
    assert stored["content"] == raced["comment"]


def test_a_flood_refusal_writes_nothing_and_spends_no_token(
    make_real_app: Callable[..., Flask],
) -> None:
    app = make_real_app(FLOOD_SECONDS=60, WEBHOOK_URL="http://127.0.0.1:9/hook")
    client = app.test_client()
    here = {"REMOTE_ADDR": "192.0.2.10"}
    assert client.post("/comments", json=payload(), environ_base=here).status_code == 201
    token = form_token(client)
    flood = client.post(
        "/comments",
        json=payload(comment="A second remark.", email="other@example.org", form_token=token),
        environ_base=here,
    )
    assert flood.status_code == 429
    assert flood.json["error"] == "comment_flood"
    stored_one = {**EMPTY, "comments": 1, "predictions": 1, "decisions": 1, "webhook_events": 1}
    assert committed(app) == stored_one
    # The refused post's token was not spent: from another address it posts once.
    elsewhere = client.post(
        "/comments",
        json=payload(comment="A second remark.", email="other@example.org", form_token=token),
        environ_base={"REMOTE_ADDR": "192.0.2.11"},
    )
    assert elsewhere.status_code == 201
    assert committed(app)["form_token_uses"] == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (payload(email="not an address"), "require_valid_email"),
        (payload(comment_parent=999999), "invalid_parent"),  # found missing in the read
        (payload(unexpected="x"), "unknown_field"),
    ],
)
def test_a_refused_comment_leaves_nothing_behind(
    make_real_app: Callable[..., Flask], body: dict[str, Any], code: str
) -> None:
    app = make_real_app(WEBHOOK_URL="http://127.0.0.1:9/hook")
    client = app.test_client()
    response = client.post("/comments", json={**body, "form_token": form_token(client)})
    assert response.status_code == 422
    assert code in {e["code"] for e in response.json["errors"]}
    assert committed(app) == EMPTY


def _waiting_on_a_lock(app: Flask, timeout: float) -> bool:
    """PostgreSQL: whether a statement of another session waits for a row lock (a request
    blocked behind the test's uncommitted change)."""
    deadline = time.monotonic() + timeout
    with get_engine(app).connect() as probe:
        while time.monotonic() < deadline:
            waiting = probe.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            ).scalar_one()
            probe.rollback()
            if waiting:
                return True
            time.sleep(0.01)
    return False


def test_a_decision_that_loses_a_race_leaves_nothing_half_written(
    make_real_app: Callable[..., Flask],
) -> None:
    """A decision on a reported comment resolves its reports before it updates the comment;
    when another writer changed the comment meanwhile, the 409 takes the resolution back too.
    PostgreSQL: the request reads the old version, resolves the report and waits for the row;
    SQLite: the request waits for the write lock, then reads the new version."""
    app = make_real_app()
    factory = app.extensions["moderation.db"]["sessionmaker"]
    with factory() as session:
        make_moderator(session, "alice")
        token = create_token(session, name="alice")
        comment = make_comment(session, open_reports=1)
        session.add(Report(comment_id=comment.id, reader="r1", reason="abuse"))
        session.commit()
        comment_id, version = comment.id, comment.version
    before = committed(app)
    answers: list[TestResponse] = []

    def decide() -> None:
        answers.append(
            app.test_client().post(
                f"/api/v1/reviews/{comment_id}/decision",
                json={"action": "reject_abuse", "version": version, "reason": "insults"},
                headers={"Authorization": f"Bearer {token}"},
            )
        )

    engine = get_engine(app)
    with engine.connect() as rival:  # SQLite: BEGIN IMMEDIATE, the write lock
        rival.execute(
            update(Comment).where(Comment.id == comment_id).values(version=Comment.version + 1)
        )
        worker = threading.Thread(target=decide)
        worker.start()
        if engine.dialect.name == "postgresql":
            assert _waiting_on_a_lock(app, timeout=2.0), "the decision never reached the row"
        else:
            time.sleep(0.3)
        rival.commit()
    worker.join(timeout=30)
    assert [a.status_code for a in answers] == [409]
    assert committed(app) == before
    with factory() as session:
        report = session.scalars(select(Report)).one()
        assert report.resolved_at is None
        stored = session.get(Comment, comment_id)
        assert stored is not None
        assert (stored.open_reports, stored.version) == (1, version + 1)
        assert [d.actor for d in stored.decisions] == ["system"]


def test_on_sqlite_reads_never_wait_for_the_write_lock_and_writes_queue_for_it(
    make_real_app: Callable[..., Flask],
) -> None:
    app = make_real_app()
    engine = get_engine(app)
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's locking")
    client = app.test_client()
    # A first read warms the app up (the hourly purge, a writer, runs only when a response is
    # closed, which the test client does not do).
    assert client.get("/articles/42/comments").status_code == 200
    answers: list[tuple[TestResponse, float]] = []

    def post() -> None:
        started = time.monotonic()
        response = client.post("/comments", json=payload())
        answers.append((response, time.monotonic() - started))

    with engine.connect() as writer:  # BEGIN IMMEDIATE: the one write lock, held
        writer.execute(text("UPDATE comments SET version = version"))
        started = time.monotonic()
        read = client.get("/articles/42/comments")
        read_seconds = time.monotonic() - started
        worker = threading.Thread(target=post)
        worker.start()
        time.sleep(0.5)
        assert not answers, "the write did not wait for the lock"
        writer.commit()
    worker.join(timeout=30)
    assert read.status_code == 200
    assert read_seconds < 0.5
    ((response, seconds),) = answers
    assert response.status_code == 201
    assert seconds >= 0.4
