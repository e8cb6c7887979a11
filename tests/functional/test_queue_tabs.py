"""The queue at work: tabs, search, cursor pages, counts, reversible decisions, bot traps held
for review, reader reports, author rules, the no-JavaScript forms, and statements per page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from moderation.domain.policy import Role, Status
from moderation.services.moderators import create_token
from moderation.services.review_queue import moderator_labels
from moderation.storage.tables import Comment
from moderation.web import database as db
from tests.factories import make_comment, make_moderator, make_pending
from tests.functional.test_moderate_page import _csrf, sign_in

pytestmark = pytest.mark.functional


@pytest.fixture
def token(db_session: Session) -> str:
    make_moderator(db_session, "alice")
    make_moderator(db_session, "root", role=Role.ADMIN)
    value = create_token(db_session, name="alice")
    db_session.commit()
    return value


def h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _post(client: FlaskClient, text: str, email: str, **extra: Any) -> Any:
    body = {"comment": text, "author": "Reader", "email": email, "comment_post_ID": "story"}
    response = client.post("/comments", json={**body, **extra})
    assert response.status_code == 201, response.json
    return response.json


def _stored(db_session: Session, comment_id: int) -> Comment:
    db_session.expire_all()
    comment = db_session.get(Comment, comment_id)
    assert comment is not None
    return comment


# --------------------------------------------------------------------------- tabs and search


def test_tabs_list_each_status_with_counts_and_search(
    client: FlaskClient, db_session: Session, token: str
) -> None:
    pending = make_pending(db_session, author="Ann Pending", ip="10.9.9.9", article_id="a1")
    approved = make_comment(db_session, content="Lovely weather in Leeds", article_id="a2")
    spam = make_comment(db_session, status=Status.SPAM, email="seller@shop.example")
    refused = make_comment(db_session, status=Status.REJECTED)
    db_session.commit()
    listed = client.get("/api/v1/reviews?status=pending", headers=h(token)).json
    assert [i["id"] for i in listed["items"]] == [pending.id]
    assert listed["counts"] == {
        "pending": 1,
        "reported": 0,
        "approved": 1,
        "spam": 1,
        "rejected": 1,
    }
    for tab, comment in [("approved", approved), ("spam", spam), ("rejected", refused)]:
        items = client.get(f"/api/v1/reviews?status={tab}", headers=h(token)).json["items"]
        assert [i["id"] for i in items] == [comment.id]
        assert items[0]["status"] == tab
    everything = client.get("/api/v1/reviews?status=all", headers=h(token)).json
    assert everything["total"] == 4
    searches = {
        "q=leeds": approved.id,  # text, any case
        "author=ann+pend": pending.id,
        "email=seller@shop.example": spam.id,
        "email=shop.exa": spam.id,  # part of an address
        "ip=10.9.9.9": pending.id,
        "article=a2": approved.id,
    }
    for query, expected in searches.items():
        found = client.get(f"/api/v1/reviews?status=all&{query}", headers=h(token)).json
        assert [i["id"] for i in found["items"]] == [expected], query
        assert found["total"] == 1
    # wildcards are searched for as text
    assert client.get("/api/v1/reviews?status=all&q=%25", headers=h(token)).json["items"] == []
    bad = client.get("/api/v1/reviews?status=deleted", headers=h(token))
    assert bad.status_code == 422
    assert bad.json["errors"][0]["field"] == "status"


def test_cursor_pages_are_stable_while_items_are_decided(
    client: FlaskClient, db_session: Session, token: str
) -> None:
    ids = [make_pending(db_session, priority=round(1 - i / 10, 2)).id for i in range(7)]
    db_session.commit()
    first = client.get("/api/v1/reviews?per_page=3", headers=h(token)).json
    assert [i["id"] for i in first["items"]] == ids[:3]
    assert first["next_cursor"]
    # someone decides an item of the first page meanwhile: the next page neither skips nor
    # repeats anything
    decided = client.post(
        f"/api/v1/reviews/{ids[0]}/decision", json={"action": "approve"}, headers=h(token)
    )
    assert decided.status_code == 200
    second = client.get(
        f"/api/v1/reviews?per_page=3&cursor={first['next_cursor']}", headers=h(token)
    ).json
    assert [i["id"] for i in second["items"]] == ids[3:6]
    third = client.get(
        f"/api/v1/reviews?per_page=3&cursor={second['next_cursor']}", headers=h(token)
    ).json
    assert [i["id"] for i in third["items"]] == ids[6:]
    assert third["next_cursor"] is None
    # by age, and on a decided tab (newest first), the cursor works the same way
    by_age = client.get("/api/v1/reviews?sort=age&per_page=2", headers=h(token)).json
    rest = client.get(
        f"/api/v1/reviews?sort=age&per_page=10&cursor={by_age['next_cursor']}", headers=h(token)
    ).json
    assert [i["id"] for i in by_age["items"] + rest["items"]] == ids[1:]
    for cursor in ["garbage", "W10", first["next_cursor"] + "x"]:
        response = client.get(f"/api/v1/reviews?cursor={cursor}", headers=h(token))
        assert response.status_code == 422, cursor
        assert response.json["errors"][0]["code"] == "invalid_cursor"
    # a cursor of one order is refused by another
    mixed = client.get(f"/api/v1/reviews?sort=age&cursor={first['next_cursor']}", headers=h(token))
    assert mixed.status_code == 422


# --------------------------------------------------------------------------- reversible


def test_an_automatic_spam_decision_is_visible_and_can_be_reversed(
    make_app: Callable[..., Flask], db_session: Session, token: str
) -> None:
    client = make_app(FIXED_SCORES={"spam": 0.95, "abuse": 0.01}).test_client()
    posted = _post(client, "Great reporting, thank you.", "fan@example.org")
    spam_tab = client.get("/api/v1/reviews?status=spam", headers=h(token)).json
    [item] = spam_tab["items"]
    assert item["id"] == posted["id"]
    assert item["system_reasons"][0]["code"] == "spam_score"
    assert item["system_reasons"][0]["text"] == "The spam model is sure it is spam."
    url = f"/api/v1/reviews/{item['id']}/decision"
    blind = client.post(url, json={"action": "approve", "reason": "real"}, headers=h(token))
    assert blind.status_code == 409  # without the version seen: no silent overwrite
    mute = client.post(
        url, json={"action": "approve", "version": item["version"]}, headers=h(token)
    )
    assert mute.status_code == 422
    assert mute.json["errors"][0]["code"] == "reason_required"
    rescued = client.post(
        url,
        json={"action": "approve", "version": item["version"], "reason": "a real reader"},
        headers=h(token),
    )
    assert rescued.status_code == 200
    assert rescued.json["item"]["status"] == "approved"
    published = client.get("/articles/story/comments").json["comments"]
    assert [c["id"] for c in published] == [item["id"]]
    history = client.get(f"/api/v1/comments/{item['id']}/history", headers=h(token)).json
    assert [(d["actor"], d["status"]) for d in history["decisions"]] == [
        ("system", "spam"),
        ("alice", "approved"),
    ]
    assert {"code": "moderator_reason", "detail": "a real reader"} in history["decisions"][1][
        "reasons"
    ]
    assert [(e.spam, e.abuse) for e in moderator_labels(db_session)] == [(0, 0)]


def test_a_published_comment_can_be_unpublished_and_labels_follow_the_latest_decision(
    client: FlaskClient, db_session: Session, token: str
) -> None:
    posted = _post(client, "Visit my shop for cheap watches", "shop@example.org")
    assert posted["status"] == "approved"
    version = _stored(db_session, posted["id"]).version
    changed = client.post(
        f"/api/v1/reviews/{posted['id']}/decision",
        json={"action": "reject_spam", "version": version, "reason": "advert"},
        headers=h(token),
    )
    assert changed.status_code == 200
    assert client.get("/articles/story/comments").json["comments"] == []
    assert [e.spam for e in moderator_labels(db_session)] == [1]
    again = client.post(
        f"/api/v1/reviews/{posted['id']}/decision",
        json={"action": "reject_spam", "version": changed.json["item"]["version"], "reason": "x"},
        headers=h(token),
    )
    assert again.status_code == 409  # spam already
    held = client.post(
        f"/api/v1/reviews/{posted['id']}/decision",
        json={"action": "hold", "version": changed.json["item"]["version"], "reason": "unsure"},
        headers=h(token),
    )
    assert held.status_code == 200
    assert held.json["item"]["status"] == "pending"
    assert moderator_labels(db_session) == []  # the latest standing decision labels nothing


def test_bot_traps_on_a_real_looking_comment_go_to_review(
    client: FlaskClient, db_session: Session, token: str
) -> None:
    posted = _post(client, "Great reporting, thank you.", "quick@example.org", fax_number="x")
    assert posted["status"] == "pending"
    [item] = client.get("/api/v1/reviews", headers=h(token)).json["items"]
    assert item["id"] == posted["id"]
    assert item["system_reasons"][0]["code"] == "honeypot"
    assert "hidden form field" in item["system_reasons"][0]["text"]


# --------------------------------------------------------------------------- reports


def test_readers_report_a_published_comment_once_and_it_enters_the_queue(
    client: FlaskClient, db_session: Session, token: str
) -> None:
    target = make_comment(db_session, content="You are all sheep")
    pending = make_pending(db_session)
    db_session.commit()
    url = f"/comments/{target.id}/report"
    first = client.post(url, json={"reason": "abuse", "detail": "insults <everyone>"})
    assert first.status_code == 201
    assert client.post(url, json={"reason": "spam"}).status_code == 409  # one per reader
    other = client.post(
        url, json={"reason": "off_topic"}, environ_base={"REMOTE_ADDR": "192.0.2.7"}
    )
    assert other.status_code == 201
    assert client.post(f"/comments/{pending.id}/report", json={"reason": "spam"}).status_code == 404
    assert client.post("/comments/99999999/report", json={"reason": "spam"}).status_code == 404
    bad = client.post(url, json={"reason": "boring", "detail": "x" * 501})
    assert bad.status_code == 422
    assert {e["code"] for e in bad.json["errors"]} == {"invalid_reason", "detail_too_long"}
    assert client.post(url, data="reason=spam", content_type="text/plain").status_code == 415

    listed = client.get("/api/v1/reviews?status=reported", headers=h(token)).json
    assert listed["counts"]["reported"] == 1
    [item] = listed["items"]
    assert item["id"] == target.id
    assert item["open_reports"] == 2
    assert [r["reason"] for r in item["reports"]] == ["abuse", "off_topic"]
    assert item["reports"][0]["detail"] == "insults <everyone>"
    # keeping it published handles the reports (no reason needed to keep a status)
    kept = client.post(
        f"/api/v1/reviews/{target.id}/decision",
        json={"action": "approve", "version": item["version"]},
        headers=h(token),
    )
    assert kept.status_code == 200
    assert client.get("/api/v1/reviews?status=reported", headers=h(token)).json["items"] == []
    assert _stored(db_session, target.id).status is Status.APPROVED


def test_reports_are_rate_limited(make_app: Callable[..., Flask], db_session: Session) -> None:
    comments = [make_comment(db_session) for _ in range(3)]
    db_session.commit()
    client = make_app(RATELIMIT_ENABLED=True, REPORT_RATE_LIMIT="2/minute").test_client()
    answers = [
        client.post(f"/comments/{c.id}/report", json={"reason": "spam"}).status_code
        for c in comments
    ]
    assert answers == [201, 201, 429]


def test_a_report_from_a_form_goes_back_to_the_article(
    make_app: Callable[..., Flask], db_session: Session
) -> None:
    target = make_comment(db_session)
    db_session.commit()
    client = make_app(SITE_ORIGINS=["https://news.example"]).test_client()
    response = client.post(
        f"/comments/{target.id}/report",
        data={"reason": "spam", "redirect_to": "https://news.example/story"},
        headers={"Accept": "text/html"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == (
        f"https://news.example/story?reported={target.id}#comment-{target.id}"
    )
    elsewhere = client.post(
        f"/comments/{target.id}/report",
        data={"reason": "spam", "redirect_to": "https://evil.example/"},
        headers={"Accept": "text/html"},
        environ_base={"REMOTE_ADDR": "192.0.2.9"},
    )
    assert elsewhere.status_code == 201
    assert "A moderator will look at this comment" in elsewhere.get_data(as_text=True)


# --------------------------------------------------------------------------- author rules


def test_blocking_an_email_or_address_makes_the_next_comment_spam(
    make_app: Callable[..., Flask], db_session: Session, token: str
) -> None:
    client = make_app(FLOOD_SECONDS=0).test_client()
    blocked = client.post(
        "/api/v1/authors/rules",
        json={"kind": "email", "value": "Troll@Example.org", "action": "block"},
        headers=h(token),
    )
    assert blocked.status_code == 200
    assert blocked.json["value"] == "troll@example.org"
    _post(client, "A perfectly civil remark.", "troll@example.org")
    [item] = client.get("/api/v1/reviews?status=spam", headers=h(token)).json["items"]
    assert item["system_reasons"][0]["code"] == "blocked_email"
    assert item["author_rules"]["email"] == "block"
    ip = client.post(
        "/api/v1/authors/rules",
        json={"kind": "ip", "value": "127.0.0.1", "action": "block"},
        headers=h(token),
    )
    assert ip.status_code == 200
    _post(client, "Another civil remark.", "someone@example.org")
    codes = [
        i["system_reasons"][0]["code"]
        for i in client.get("/api/v1/reviews?status=spam", headers=h(token)).json["items"]
    ]
    assert codes == ["blocked_ip", "blocked_email"]
    for body in (
        {"kind": "ip", "value": "not an address", "action": "block"},
        {"kind": "ip", "value": "127.0.0.1", "action": "trust"},
        {"kind": "email", "value": "troll@example.org", "action": "ban"},
    ):
        assert client.post("/api/v1/authors/rules", json=body, headers=h(token)).status_code == 422
    lifted = client.post(
        "/api/v1/authors/rules",
        json={"kind": "ip", "value": "127.0.0.1", "action": "clear"},
        headers=h(token),
    )
    assert lifted.status_code == 200
    assert (
        client.post(
            "/api/v1/authors/rules",
            json={"kind": "ip", "value": "127.0.0.1", "action": "clear"},
            headers=h(token),
        ).status_code
        == 404
    )


def test_a_trusted_author_with_continuity_is_published(
    make_app: Callable[..., Flask], db_session: Session, token: str
) -> None:
    client = make_app(FIXED_SCORES={"spam": 0.6, "abuse": 0.01}, FLOOD_SECONDS=0).test_client()
    first = _post(client, "First thoughts on the vote.", "regular@example.org")
    assert first["status"] == "pending"  # unsure spam, new author
    trusted = client.post(
        "/api/v1/authors/rules",
        json={"kind": "email", "value": "regular@example.org", "action": "trust"},
        headers=h(token),
    )
    assert trusted.status_code == 200
    # the same browser (its author cookie proves continuity): published
    assert _post(client, "Second thoughts.", "regular@example.org")["status"] == "approved"
    # anyone else typing the email: still held
    stranger = make_app(FIXED_SCORES={"spam": 0.6, "abuse": 0.01}, FLOOD_SECONDS=0).test_client()
    assert _post(stranger, "Pretending.", "regular@example.org")["status"] == "pending"


# --------------------------------------------------------------------------- the page


def test_the_page_works_without_javascript(client: FlaskClient, db_session: Session) -> None:
    make_moderator(db_session)
    spam = make_comment(db_session, status=Status.SPAM, content="Rescue me please")
    db_session.commit()
    sign_in(client)
    page = client.get("/moderate?tab=spam").get_data(as_text=True)
    assert "Rescue me please" in page
    assert 'aria-current="page" data-tab="spam"' in page
    token = _csrf(page)
    form = {"action": "approve", "version": str(spam.version), "next": "/moderate?tab=spam"}
    forged = client.post(f"/moderate/comments/{spam.id}/decide", data=form)
    assert forged.status_code == 303
    assert _stored(db_session, spam.id).status is Status.SPAM
    assert "too old" in client.get("/moderate?tab=spam").get_data(as_text=True)
    silent = client.post(f"/moderate/comments/{spam.id}/decide", data={**form, "csrf_token": token})
    assert silent.status_code == 303
    assert "Say why you change" in client.get(silent.headers["Location"]).get_data(as_text=True)
    done = client.post(
        f"/moderate/comments/{spam.id}/decide",
        data={**form, "csrf_token": token, "reason": "a person wrote this"},
    )
    assert done.status_code == 303
    assert done.headers["Location"] == "/moderate?tab=spam"
    assert _stored(db_session, spam.id).status is Status.APPROVED
    approved_tab = client.get("/moderate?tab=approved").get_data(as_text=True)
    assert "Rescue me please" in approved_tab
    assert "a person wrote this" in approved_tab  # the note beside the latest decision
    undo = client.post(
        f"/moderate/comments/{spam.id}/undo",
        data={"csrf_token": token, "next": "https://evil.example/"},
    )
    assert undo.status_code == 303
    assert undo.headers["Location"] == "/moderate"  # never away from the queue
    assert _stored(db_session, spam.id).status is Status.PENDING
    nonsense = client.post(
        f"/moderate/comments/{spam.id}/decide", data={**form, "csrf_token": token, "action": "x"}
    )
    assert nonsense.status_code == 303
    assert _stored(db_session, spam.id).status is Status.PENDING


def test_the_author_panel_lists_everything_and_blocks(
    client: FlaskClient, db_session: Session
) -> None:
    make_moderator(db_session)
    email = "eve@example.org"
    make_pending(db_session, email=email, content="Held one")
    make_comment(db_session, email=email, content="Published one")
    make_comment(db_session, email=email, status=Status.SPAM, content="Spam one")
    make_comment(db_session, content="Someone else")
    db_session.commit()
    sign_in(client)
    page = client.get(f"/moderate?tab=all&email={email}").get_data(as_text=True)
    assert 'id="author-panel"' in page
    for text in ("Held one", "Published one", "Spam one"):
        assert text in page
    assert "Someone else" not in page
    assert "Comments: approved 1, pending 1, spam 1, rejected 0" in page
    blocked = client.post(
        "/moderate/authors/rules",
        data={
            "csrf_token": _csrf(page),
            "kind": "email",
            "value": email,
            "action": "block",
            "next": f"/moderate?tab=all&email={email}",
        },
    )
    assert blocked.status_code == 303
    again = client.get(blocked.headers["Location"]).get_data(as_text=True)
    assert '<b class="rule-state">block</b>' in again
    assert "email blocked" in again


def test_article_links_go_to_the_article_page(
    make_app: Callable[..., Flask], db_session: Session
) -> None:
    make_moderator(db_session)
    make_pending(db_session, article_id="demo-article")
    make_pending(db_session, article_id="p 42")
    db_session.commit()
    client = make_app().test_client()
    sign_in(client)
    page = client.get("/moderate").get_data(as_text=True)
    assert 'class="article" href="/demo/article"' in page
    configured = make_app(ARTICLE_URL="https://news.example/?p={article_id}").test_client()
    sign_in(configured)
    page = configured.get("/moderate").get_data(as_text=True)
    assert 'class="article" href="https://news.example/?p=p%2042"' in page


# --------------------------------------------------------------------------- statements


@contextmanager
def counted(app: Flask) -> Iterator[list[str]]:
    """The SQL statements run while the block runs (on the test's connection)."""
    statements: list[str] = []
    bind = app.extensions[db.EXTENSION]["sessionmaker"].kw["bind"]
    engine = bind.engine

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("tab", ["pending", "reported", "all"])
def test_a_page_costs_the_same_statements_for_3_or_40_items(
    app: Flask, client: FlaskClient, db_session: Session, token: str, tab: str
) -> None:
    make_moderator(db_session)
    db_session.commit()
    sign_in(client)

    def page_statements(n: int) -> tuple[int, int]:
        for i in range(n):
            comment = make_pending(db_session) if tab != "reported" else make_comment(db_session)
            if tab == "reported":
                client.post(
                    f"/comments/{comment.id}/report",
                    json={"reason": "spam"},
                    environ_base={"REMOTE_ADDR": f"192.0.2.{i % 250}"},
                )
        db_session.commit()
        with counted(app) as api:
            listed = client.get(f"/api/v1/reviews?status={tab}&per_page=50", headers=h(token))
        assert listed.status_code == 200
        assert len(listed.json["items"]) >= n
        with counted(app) as page:
            html = client.get(f"/moderate?tab={tab}")
        assert html.status_code == 200
        return len(api), len(page)

    small = page_statements(3)
    large = page_statements(37)
    assert small == large, (small, large)
    # the comments, decisions, predictions, counts, histories, rules (+ reports), and auth
    assert small[0] <= 12
