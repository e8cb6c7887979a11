"""Rules that must hold when several workers or hosts write to one PostgreSQL at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from moderation.domain.errors import ConflictError, FloodError
from moderation.domain.rules import IntakeSettings
from moderation.schemas import CommentIn
from moderation.services import review_queue as rq
from moderation.services.intake import RequestMeta, prepare_comment, store_comment
from moderation.storage.db import utcnow
from tests.conftest import _postgres_or_skip, fresh_database
from tests.factories import make_moderator, make_pending

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def pg() -> Iterator[Engine]:
    url = _postgres_or_skip()
    engine = fresh_database(url)
    yield engine
    engine.dispose()


def _comment(text: str, email: str) -> CommentIn:
    return CommentIn.model_validate(
        {"comment": text, "author": "A", "email": email, "comment_post_ID": "race"}
    )


def test_two_comments_from_one_address_at_once_cannot_both_pass_the_flood_rule(
    pg: Engine,
) -> None:
    settings = IntakeSettings(flood_seconds=15)
    meta = RequestMeta(ip="203.0.113.9")
    first_stored, release_first = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def first() -> None:
        with Session(pg) as session:
            prepared = prepare_comment(
                session,
                None,
                data=_comment("first", "one@example.org"),
                meta=meta,
                settings=settings,
            )
            session.rollback()
            store_comment(session, prepared, settings=settings)
            first_stored.set()
            release_first.wait(10)
            session.commit()

    def second() -> None:
        first_stored.wait(10)
        with Session(pg) as session:
            prepared = prepare_comment(
                session,
                None,
                data=_comment("second", "two@example.org"),
                meta=meta,
                settings=settings,
            )
            session.rollback()
            try:
                store_comment(session, prepared, settings=settings)
                session.commit()
                outcome["second"] = "stored"
            except FloodError:
                session.rollback()
                outcome["second"] = "flood"

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_stored.wait(10)
    # The second writer waits for the first's lock instead of reading past its comment.
    threads[1].join(timeout=1)
    assert threads[1].is_alive()
    release_first.set()
    for thread in threads:
        thread.join(timeout=10)
    assert outcome == {"second": "flood"}


def test_a_release_that_lost_a_race_is_a_409(pg: Engine) -> None:
    with Session(pg) as setup:
        moderator = make_moderator(setup, name=f"racer-{utcnow().timestamp()}")
        item = make_pending(setup, content=f"release race {utcnow().timestamp()}")
        setup.commit()
        comment_id, moderator_id = item.id, moderator.id
    with Session(pg) as a, Session(pg) as b:
        theirs = a.get(type(moderator), moderator_id)
        assert theirs is not None
        rq.claim(a, comment_id=comment_id, moderator=theirs)
        a.commit()
        mine = b.get(type(moderator), moderator_id)
        assert mine is not None
        loaded = b.get(type(item), comment_id)  # b reads the lease at this version
        assert loaded is not None
        rq.record_decision(
            a,
            comment_id=comment_id,
            moderator=theirs,
            action=rq.Action.APPROVE,
        )
        a.commit()
        with pytest.raises(ConflictError):
            rq.release(b, comment_id=comment_id, moderator=mine)
