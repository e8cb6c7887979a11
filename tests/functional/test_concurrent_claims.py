"""Concurrent moderators on a real database: no item is ever leased to two of them.

These tests commit for real (each moderator is its own thread with its own connection), so
they make their own rows and delete them afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from moderation.domain.errors import ConflictError
from moderation.services import review_queue as rq
from moderation.storage.tables import ApiToken, Comment, DecisionRecord, Moderator, Prediction
from tests.factories import make_moderator, make_pending

pytestmark = pytest.mark.functional

MODERATORS = 6
ITEMS = 60


@pytest.fixture
def committed(engine: Engine) -> Iterator[sessionmaker[Session]]:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as session:
        for i in range(MODERATORS):
            make_moderator(session, f"concurrent-{i}")
        for i in range(ITEMS):
            make_pending(session, article_id="concurrency", priority=(i % 7) / 7)
        session.commit()
    yield factory
    with factory() as session:
        ids = select(Comment.id).where(Comment.article_id == "concurrency")
        session.execute(delete(DecisionRecord).where(DecisionRecord.comment_id.in_(ids)))
        session.execute(delete(Prediction).where(Prediction.comment_id.in_(ids)))
        session.execute(delete(Comment).where(Comment.article_id == "concurrency"))
        mods = select(Moderator.id).where(Moderator.name.like("concurrent-%"))
        session.execute(delete(ApiToken).where(ApiToken.moderator_id.in_(mods)))
        session.execute(delete(Moderator).where(Moderator.name.like("concurrent-%")))
        session.commit()


def test_concurrent_claim_next_never_hands_one_item_to_two(
    committed: sessionmaker[Session],
) -> None:
    barrier = threading.Barrier(MODERATORS)
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            with committed() as session:
                me = session.scalars(select(Moderator).where(Moderator.name == name)).one()
                session.commit()
                mine: list[int] = []
                barrier.wait(timeout=30)
                for _ in range(10):
                    items = rq.claim_next(
                        session, moderator=me, count=3, flt=rq.QueueFilter(article_id="concurrency")
                    )
                    session.commit()
                    mine.extend(c.id for c in items)
                claimed[name] = mine
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"concurrent-{i}",)) for i in range(MODERATORS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    every = [i for ids in claimed.values() for i in ids]
    assert len(every) == len(set(every)), "an item was leased to two moderators"
    assert len(every) == ITEMS  # all 60 handed out, 6 x 10 rounds x 3 = 180 asked for
    with committed() as session:
        holders = dict(
            session.execute(
                select(Comment.id, Comment.claimed_by).where(Comment.article_id == "concurrency")
            ).all()
        )
        names = dict(session.execute(select(Moderator.name, Moderator.id)).all())
    for name, ids in claimed.items():
        assert all(holders[i] == names[name] for i in ids)


def test_concurrent_decisions_on_one_item_let_exactly_one_win(
    committed: sessionmaker[Session],
) -> None:
    with committed() as session:
        target = session.scalars(
            select(Comment).where(Comment.article_id == "concurrency").limit(1)
        ).one()
        version = target.version
    barrier = threading.Barrier(MODERATORS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        with committed() as session:
            me = session.scalars(select(Moderator).where(Moderator.name == name)).one()
            session.commit()
            barrier.wait(timeout=30)
            try:
                rq.record_decision(
                    session,
                    comment_id=target.id,
                    moderator=me,
                    action=rq.Action.APPROVE,
                    version=version,
                )
                session.commit()
                result = "won"
            except ConflictError:
                session.rollback()
                result = "conflict"
            except Exception as exc:
                session.rollback()
                result = f"error: {exc!r}"
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=work, args=(f"concurrent-{i}",)) for i in range(MODERATORS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(outcomes) == ["conflict"] * (MODERATORS - 1) + ["won"]
    with committed() as session:
        decisions = session.scalars(
            select(DecisionRecord).where(
                DecisionRecord.comment_id == target.id, DecisionRecord.moderator_id.is_not(None)
            )
        ).all()
    assert len(decisions) == 1
