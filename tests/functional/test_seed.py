"""The queue benchmark's seed command: the rows it makes look like intake's, fast to page."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from moderation.cli import main
from moderation.domain.policy import Status
from moderation.services import review_queue as rq
from moderation.storage.db import make_engine
from moderation.storage.seed import seed_comments
from moderation.storage.tables import Comment, DecisionRecord, Prediction
from tests.conftest import scratch_database

pytestmark = pytest.mark.functional


def test_seed_stores_comments_decisions_and_predictions(database_url: str, tmp_path: Path) -> None:
    if database_url.startswith("sqlite"):
        database_url = f"sqlite:///{tmp_path / 'seed.db'}"
    # A database of its own: the seed commits, and the suite's shared schema must stay as it is.
    with scratch_database(database_url) as url:
        engine = make_engine(url)
        try:
            _seed_and_check(engine)
        finally:
            engine.dispose()


def _seed_and_check(engine: Engine) -> None:
    _first, last = seed_comments(engine, comments=1_000, pending=100, batch=300)
    again = seed_comments(engine, comments=10, pending=10, batch=300)
    assert again == (last + 1, last + 10)  # more rows append after the first ones
    with Session(engine) as session:
        by_status = dict(
            session.execute(select(Comment.status, func.count()).group_by(Comment.status)).all()
        )
        assert sum(by_status.values()) == 1_010
        assert by_status[Status.PENDING] == 110
        assert session.scalar(select(func.count()).select_from(DecisionRecord)) == 1_010
        assert session.scalar(select(func.count()).select_from(Prediction)) == 1_010
        page = rq.list_comments(session, flt=rq.QueueFilter(), limit=50)
        assert len(page.items) == 50
        assert page.counts["pending"] == 110
        assert page.items[0].predictions[0].explanation is not None
        # a new comment after seeding gets an id of its own (sequences follow)
        session.add(
            Comment(
                article_id="x",
                author="a",
                email="a@example.org",
                content="after",
                status=Status.PENDING,
                duplicate_key="after-seed",
            )
        )
        session.flush()
        session.rollback()


def test_the_seed_command_checks_its_options(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"MODERATION_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}", "MODERATION_ENV": "testing"}
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    bad = runner.invoke(main, ["db", "seed", "--comments", "10", "--pending", "20"], env=env)
    assert bad.exit_code != 0
    assert "pending" in bad.output
    done = runner.invoke(main, ["db", "seed", "--comments", "20", "--pending", "5"], env=env)
    assert done.exit_code == 0, done.output
    assert "(5 pending)" in done.output
