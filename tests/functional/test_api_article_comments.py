"""GET /articles/<id>/comments: threads, pages (numbered and keyset), order, ETag, SQL cost."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from moderation.domain.policy import Status
from moderation.services.publishing import MAX_DEPTH
from moderation.storage.db import utcnow
from moderation.storage.tables import Comment
from tests.factories import make_comment

pytestmark = pytest.mark.functional

START = utcnow() - timedelta(days=1)


def at(minutes: int) -> Any:
    return START + timedelta(minutes=minutes)


def thread_of(session: Session, article: str) -> dict[str, Comment]:
    """Two threads and some noise: what the listing must show and what it must not."""
    c: dict[str, Comment] = {}
    c["a"] = make_comment(session, article_id=article, content="A", created_at=at(1))
    c["b"] = make_comment(session, article_id=article, content="B", created_at=at(2))
    c["a1"] = make_comment(
        session, article_id=article, content="A1", parent_id=c["a"].id, created_at=at(3)
    )
    c["b1"] = make_comment(
        session, article_id=article, content="B1", parent_id=c["b"].id, created_at=at(4)
    )
    c["a1x"] = make_comment(
        session, article_id=article, content="A1x", parent_id=c["a1"].id, created_at=at(5)
    )
    c["a2"] = make_comment(
        session, article_id=article, content="A2", parent_id=c["a"].id, created_at=at(6)
    )
    # not shown: a held reply, a refused top-level comment, and the replies below a held one
    c["held"] = make_comment(
        session,
        article_id=article,
        content="held",
        parent_id=c["a"].id,
        status=Status.PENDING,
        created_at=at(7),
    )
    c["under_held"] = make_comment(
        session, article_id=article, content="under held", parent_id=c["held"].id, created_at=at(8)
    )
    make_comment(
        session, article_id=article, content="refused", status=Status.REJECTED, created_at=at(9)
    )
    make_comment(session, article_id=article + "-other", content="elsewhere", created_at=at(10))
    session.commit()
    return c


def shape(comments: list[dict[str, Any]]) -> list[Any]:
    return [(c["content"], shape(c["replies"])) if c["replies"] else c["content"] for c in comments]


def test_threads_are_nested_and_only_published_comments_shown(
    client: FlaskClient, db_session: Session
) -> None:
    c = thread_of(db_session, "threads")
    body = client.get("/articles/threads/comments").json
    assert shape(body["comments"]) == [("A", [("A1", ["A1x"]), "A2"]), ("B", ["B1"])]
    assert body["total"] == 2  # threads
    # every published comment, replies included (as WordPress counts: also a published reply
    # whose parent was unpublished later, which no thread shows)
    assert body["comment_count"] == 7
    assert body["pages"] == 1
    assert body["next"] is None
    assert body["replies_truncated"] is False
    first = body["comments"][0]
    assert first["id"] == c["a"].id
    assert first["replies"][0]["parent_id"] == c["a"].id
    assert set(first) == {
        "id",
        "article_id",
        "parent_id",
        "author",
        "url",
        "content",
        "created_at",
        "replies",
    }  # never the email, address or scores


def test_newest_first_reverses_threads_but_not_replies(
    client: FlaskClient, db_session: Session
) -> None:
    thread_of(db_session, "order")
    body = client.get("/articles/order/comments?order=newest").json
    assert shape(body["comments"]) == [("B", ["B1"]), ("A", [("A1", ["A1x"]), "A2"])]


@pytest.mark.parametrize("order", ["oldest", "newest"])
def test_pages_keep_threads_whole_by_number_and_by_cursor(
    client: FlaskClient, db_session: Session, order: str
) -> None:
    article = f"paged-{order}"
    tops = []
    for n in range(5):
        # two pairs share a timestamp: the id breaks the tie, in both paging styles
        top = make_comment(db_session, article_id=article, content=f"T{n}", created_at=at(n // 2))
        make_comment(
            db_session,
            article_id=article,
            content=f"R{n}",
            parent_id=top.id,
            created_at=at(100 + n),
        )
        tops.append(f"T{n}")
    db_session.commit()
    expected = tops if order == "oldest" else tops[::-1]

    by_number = []
    for page in (1, 2, 3):
        body = client.get(f"/articles/{article}/comments?order={order}&per_page=2&page={page}").json
        assert body["total"] == 5
        assert body["pages"] == 3
        assert body["comment_count"] == 10
        for item in body["comments"]:
            assert [r["content"] for r in item["replies"]] == ["R" + item["content"][1:]]
        by_number.append([item["content"] for item in body["comments"]])
    assert by_number == [expected[0:2], expected[2:4], expected[4:]]
    assert client.get(f"/articles/{article}/comments?per_page=2&page=4").json["comments"] == []

    by_cursor = []
    url: str | None = f"/articles/{article}/comments?order={order}&per_page=2"
    while url is not None:
        body = client.get(url).json
        by_cursor.append([item["content"] for item in body["comments"]])
        url = body["next"]
    assert by_cursor == by_number


def test_etag_answers_304_until_the_listing_changes(
    client: FlaskClient, db_session: Session
) -> None:
    thread_of(db_session, "cached")
    first = client.get("/articles/cached/comments")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-cache"
    again = client.get("/articles/cached/comments", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    other_page = client.get("/articles/cached/comments?per_page=1", headers={"If-None-Match": etag})
    assert other_page.status_code == 200
    make_comment(db_session, article_id="cached", content="new", created_at=at(50))
    db_session.commit()
    changed = client.get("/articles/cached/comments", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_a_deep_back_and_forth_stays_shallow_and_complete(
    client: FlaskClient, db_session: Session
) -> None:
    parent = make_comment(db_session, article_id="deep", content="0", created_at=at(0))
    for n in range(1, MAX_DEPTH + 5):
        parent = make_comment(
            db_session, article_id="deep", content=str(n), parent_id=parent.id, created_at=at(n)
        )
    db_session.commit()
    body = client.get("/articles/deep/comments").json
    depth, seen, level = 0, [], body["comments"]
    while level:
        depth += 1
        seen.extend(item["content"] for item in level)
        level = [r for item in level for r in item["replies"]]
    assert depth == MAX_DEPTH
    assert seen == [str(n) for n in range(MAX_DEPTH + 5)]


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_a_page_reads_only_its_own_threads_in_four_statements(
    client: FlaskClient, db_session: Session, statements: list[str]
) -> None:
    article = "costly"
    for n in range(6):
        top = make_comment(db_session, article_id=article, content=f"T{n}", created_at=at(n))
        for m in range(3):
            make_comment(db_session, article_id=article, content=f"R{n}.{m}", parent_id=top.id)
    db_session.commit()
    statements.clear()
    body = client.get(f"/articles/{article}/comments?per_page=2&page=2").json
    # (the app's own housekeeping, such as the hourly purge, reads other things)
    selects = [s for s in statements if "article_id = " in s]
    assert len(selects) == 4  # two counts, one page of top-level comments, its threads
    assert [item["content"] for item in body["comments"]] == ["T2", "T3"]
    assert sum(len(item["replies"]) for item in body["comments"]) == 6
    assert "LIMIT" in selects[2].upper()


@pytest.mark.parametrize(
    ("query", "field"),
    [("after=x", "after"), ("after=-1", "after"), ("per_page=0", "per_page"), ("page=0", "page")],
)
def test_bad_paging_arguments_are_422(client: FlaskClient, query: str, field: str) -> None:
    response = client.get(f"/articles/any/comments?{query}")
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == field
