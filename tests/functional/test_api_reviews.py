"""The moderator API: authentication, the queue, leases, decisions, undo, bulk, history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from moderation.domain.policy import Role, Status
from moderation.services.moderators import create_token
from moderation.services.review_queue import moderator_labels
from moderation.storage.db import utcnow
from moderation.storage.tables import Comment
from tests.factories import make_comment, make_moderator, make_pending

pytestmark = pytest.mark.functional


@pytest.fixture
def tokens(db_session: Session) -> dict[str, str]:
    make_moderator(db_session, "alice")
    make_moderator(db_session, "bob")
    make_moderator(db_session, "root", role=Role.ADMIN)
    out = {name: create_token(db_session, name=name) for name in ("alice", "bob", "root")}
    db_session.commit()
    return out


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ENDPOINTS = [
    ("GET", "/api/v1/reviews"),
    ("POST", "/api/v1/reviews/1/claim"),
    ("POST", "/api/v1/reviews/1/release"),
    ("POST", "/api/v1/reviews/claim"),
    ("POST", "/api/v1/reviews/1/decision"),
    ("POST", "/api/v1/reviews/1/undo"),
    ("POST", "/api/v1/reviews/bulk"),
    ("GET", "/api/v1/comments/1/history"),
    ("GET", "/api/v1/moderators"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_anonymous_and_bad_tokens_are_refused(client: FlaskClient, method: str, path: str) -> None:
    assert client.open(path, method=method).status_code == 401
    bad = client.open(path, method=method, headers=auth("modtok_nope"))
    assert bad.status_code == 401
    assert bad.json["error"] == "unauthorized"


def test_moderators_cannot_use_admin_endpoints(client: FlaskClient, tokens: dict[str, str]) -> None:
    assert client.get("/api/v1/moderators", headers=auth(tokens["alice"])).status_code == 403
    listed = client.get("/api/v1/moderators", headers=auth(tokens["root"]))
    assert listed.status_code == 200
    assert {m["name"] for m in listed.json["moderators"]} == {"alice", "bob", "root"}


def test_queue_lists_filters_and_sorts(
    client: FlaskClient, db_session: Session, tokens: dict[str, str]
) -> None:
    old = make_pending(
        db_session, article_id="a1", priority=0.2, created_at=utcnow() - timedelta(hours=2)
    )
    unsure = make_pending(db_session, article_id="a1", priority=0.9, spam_score=0.6)
    links = make_pending(
        db_session,
        article_id="a2",
        priority=0.4,
        spam_score=0.1,
        abuse_score=0.05,
        reason_codes=",too_many_links,",
    )
    make_comment(db_session, article_id="a1")  # approved: not in the queue
    db_session.commit()
    h = auth(tokens["alice"])
    by_priority = client.get("/api/v1/reviews", headers=h).json
    assert by_priority["total"] == 3
    assert [i["id"] for i in by_priority["items"]] == [unsure.id, links.id, old.id]
    by_age = client.get("/api/v1/reviews?sort=age", headers=h).json
    assert by_age["items"][0]["id"] == old.id
    assert [i["id"] for i in client.get("/api/v1/reviews?article=a2", headers=h).json["items"]] == [
        links.id
    ]
    assert [
        i["id"]
        for i in client.get("/api/v1/reviews?reason=too_many_links", headers=h).json["items"]
    ] == [links.id]
    scored = client.get("/api/v1/reviews?min_score=0.55&max_score=0.7", headers=h).json["items"]
    assert [i["id"] for i in scored] == [unsure.id]
    item = by_priority["items"][0]
    assert item["scores"]["spam"] == 0.6
    assert item["version"] == 1  # never claimed nor decided
    assert client.get("/api/v1/reviews?sort=random", headers=h).status_code == 422
    assert client.get("/api/v1/reviews?min_score=2", headers=h).status_code == 422


def test_a_lease_keeps_others_off_until_it_expires(
    make_app: Callable[..., Flask], db_session: Session, tokens: dict[str, str]
) -> None:
    item = make_pending(db_session)
    db_session.commit()
    client = make_app(CLAIM_SECONDS=300).test_client()
    mine = client.post(f"/api/v1/reviews/{item.id}/claim", headers=auth(tokens["alice"]))
    assert mine.status_code == 200
    assert mine.json["claim_expires_at"] is not None
    theirs = client.post(f"/api/v1/reviews/{item.id}/claim", headers=auth(tokens["bob"]))
    assert theirs.status_code == 409
    decided = client.post(
        f"/api/v1/reviews/{item.id}/decision",
        json={"action": "approve"},
        headers=auth(tokens["bob"]),
    )
    assert decided.status_code == 409
    # renewing my own lease is fine
    assert (
        client.post(f"/api/v1/reviews/{item.id}/claim", headers=auth(tokens["alice"])).status_code
        == 200
    )
    expired = make_app(CLAIM_SECONDS=-1).test_client()  # leases granted here are already over
    assert (
        expired.post(f"/api/v1/reviews/{item.id}/claim", headers=auth(tokens["alice"])).status_code
        == 200
    )
    assert (
        expired.post(f"/api/v1/reviews/{item.id}/claim", headers=auth(tokens["bob"])).status_code
        == 200
    )


def test_release_gives_back_your_own_lease_and_leaves_anyone_elses(
    make_app: Callable[..., Flask], db_session: Session, tokens: dict[str, str]
) -> None:
    item = make_pending(db_session)
    db_session.commit()
    client = make_app(CLAIM_SECONDS=300).test_client()
    alice, bob = auth(tokens["alice"]), auth(tokens["bob"])
    claimed = client.post(f"/api/v1/reviews/{item.id}/claim", headers=alice)
    assert claimed.status_code == 200
    holder = claimed.json["claimed_by"]
    assert holder is not None
    # Bob cannot give back Alice's lease: the answer shows it still hers, and it holds.
    theirs = client.post(f"/api/v1/reviews/{item.id}/release", headers=bob)
    assert theirs.status_code == 200
    assert (theirs.json["claimed_by"], theirs.json["version"]) == (holder, claimed.json["version"])
    assert client.post(f"/api/v1/reviews/{item.id}/claim", headers=bob).status_code == 409
    mine = client.post(f"/api/v1/reviews/{item.id}/release", headers=alice)
    assert mine.status_code == 200
    assert (mine.json["claimed_by"], mine.json["claim_expires_at"]) == (None, None)
    assert mine.json["version"] == claimed.json["version"] + 1
    db_session.expire_all()
    stored = db_session.get(Comment, item.id)
    assert stored is not None
    assert (stored.claimed_by, stored.claim_expires_at) == (None, None)
    assert client.post(f"/api/v1/reviews/{item.id}/claim", headers=bob).status_code == 200


def test_claim_next_hands_out_distinct_items(
    client: FlaskClient, db_session: Session, tokens: dict[str, str]
) -> None:
    for i in range(5):
        make_pending(db_session, priority=i / 10)
    db_session.commit()
    first = client.post(
        "/api/v1/reviews/claim", json={"count": 3}, headers=auth(tokens["alice"])
    ).json
    second = client.post(
        "/api/v1/reviews/claim", json={"count": 3}, headers=auth(tokens["bob"])
    ).json
    a = {i["id"] for i in first["items"]}
    b = {i["id"] for i in second["items"]}
    assert len(a) == 3
    assert len(b) == 2
    assert not a & b
    assert [i["priority"] for i in first["items"]] == sorted(
        (i["priority"] for i in first["items"]), reverse=True
    )


def test_claim_next_leases_pending_comments_whatever_the_tab(
    client: FlaskClient, db_session: Session, tokens: dict[str, str]
) -> None:
    pending = make_pending(db_session)
    for _ in range(2):
        make_comment(db_session, priority=0.9)  # published, and first in priority order
    db_session.commit()
    for tab in ("all", "approved", "reported"):
        answer = client.post(
            f"/api/v1/reviews/claim?status={tab}", json={"count": 1}, headers=auth(tokens["alice"])
        )
        assert answer.status_code == 200, answer.json
        expected = [pending.id] if tab == "all" else []
        assert [i["id"] for i in answer.json["items"]] == expected, tab


def test_decide_publishes_and_records_who(
    client: FlaskClient, db_session: Session, tokens: dict[str, str]
) -> None:
    item = make_pending(db_session, article_id="story")
    db_session.commit()
    loaded = client.get("/api/v1/reviews", headers=auth(tokens["alice"])).json["items"][0]
    response = client.post(
        f"/api/v1/reviews/{item.id}/decision",
        json={"action": "approve", "reason": "fine", "version": loaded["version"]},
        headers=auth(tokens["alice"]),
    )
    assert response.status_code == 200
    assert response.json["item"]["status"] == "approved"
    published = client.get("/articles/story/comments").json["comments"]
    assert [c["id"] for c in published] == [item.id]
    history = client.get(f"/api/v1/comments/{item.id}/history", headers=auth(tokens["bob"])).json
    assert [d["actor"] for d in history["decisions"]] == ["system", "alice"]
    assert history["decisions"][1]["reasons"][1] == {"code": "moderator_reason", "detail": "fine"}
    assert history["predictions"][0]["model_version"] == "fixed"


def test_a_stale_or_repeated_decision_is_409(
    client: FlaskClient, db_session: Session, tokens: dict[str, str]
) -> None:
    item = make_pending(db_session)
    db_session.commit()
    seen = client.get("/api/v1/reviews", headers=auth(tokens["alice"])).json["items"][0]["version"]
    bob = client.post(
        f"/api/v1/reviews/{item.id}/decision",
        json={"action": "reject_spam", "version": seen},
        headers=auth(tokens["bob"]),
    )
    assert bob.status_code == 200
    alice = client.post(
        f"/api/v1/reviews/{item.id}/decision",
        json={"action": "approve", "version": seen},
        headers=auth(tokens["alice"]),
    )
    assert alice.status_code == 409
    assert alice.json["error"] == "conflict"
    db_session.expire_all()
    stored = db_session.get(Comment, item.id)
    assert stored is not None
    assert stored.status is Status.SPAM


def test_undo_puts_the_comment_back_and_removes_the_label(
    client: FlaskClient, db_session: Session, tokens: dict[str, str]
) -> None:
    item = make_pending(db_session, content="Buy stuff at my shop")
    db_session.commit()
    h = auth(tokens["alice"])
    client.post(f"/api/v1/reviews/{item.id}/decision", json={"action": "reject_spam"}, headers=h)
    assert [e.spam for e in moderator_labels(db_session)] == [1]
    undone = client.post(f"/api/v1/reviews/{item.id}/undo", headers=h)
    assert undone.status_code == 200
    assert undone.json["item"]["status"] == "pending"
    assert moderator_labels(db_session) == []
    assert client.post(f"/api/v1/reviews/{item.id}/undo", headers=h).status_code == 409
    client.post(f"/api/v1/reviews/{item.id}/decision", json={"action": "approve"}, headers=h)
    labels = moderator_labels(db_session)
    assert [(e.spam, e.abuse, e.dataset) for e in labels] == [(0, 0, "moderator")]


def test_bulk_decides_each_item_on_its_own(
    client: FlaskClient, db_session: Session, tokens: dict[str, str]
) -> None:
    a, b = make_pending(db_session), make_pending(db_session)
    done = make_comment(db_session)
    db_session.commit()
    response = client.post(
        "/api/v1/reviews/bulk",
        json={"ids": [a.id, b.id, done.id, 999999], "action": "reject_abuse", "reason": "insults"},
        headers=auth(tokens["alice"]),
    )
    assert response.status_code == 200
    results = {r["comment_id"]: r for r in response.json["results"]}
    assert results[a.id]["ok"]
    assert results[b.id]["ok"]
    assert results[a.id]["status"] == "rejected"
    assert not results[done.id]["ok"]
    assert results[done.id]["status"] == "approved"
    assert results[999999]["status"] == "missing"


@pytest.mark.parametrize(
    "body",
    [
        {"action": "delete"},
        {"action": "approve", "extra": 1},
        {"action": "approve", "version": "x"},
        {},
    ],
)
def test_bad_decision_bodies_are_422(
    client: FlaskClient, db_session: Session, tokens: dict[str, str], body: dict[str, Any]
) -> None:
    item = make_pending(db_session)
    db_session.commit()
    response = client.post(
        f"/api/v1/reviews/{item.id}/decision", json=body, headers=auth(tokens["alice"])
    )
    assert response.status_code == 422
    assert response.json["errors"]


def test_unknown_items_are_404(client: FlaskClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["alice"])
    assert client.post("/api/v1/reviews/424242/claim", headers=h).status_code == 404
    assert client.post("/api/v1/reviews/424242/release", headers=h).status_code == 404
    assert client.get("/api/v1/comments/424242/history", headers=h).status_code == 404


def test_undo_is_only_for_your_own_latest_decision(
    client: FlaskClient, db_session: Session, tokens: dict[str, str]
) -> None:
    item = make_pending(db_session)
    db_session.commit()
    mine = client.post(
        f"/api/v1/reviews/{item.id}/decision",
        json={"action": "approve"},
        headers=auth(tokens["alice"]),
    ).json["decision_id"]
    bob = client.post(f"/api/v1/reviews/{item.id}/undo", headers=auth(tokens["bob"]))
    assert bob.status_code == 403
    root = client.post(
        f"/api/v1/reviews/{item.id}/undo", json={"decision_id": mine}, headers=auth(tokens["root"])
    )
    assert root.status_code == 200
    again = client.post(
        f"/api/v1/reviews/{item.id}/decision",
        json={"action": "reject_spam"},
        headers=auth(tokens["bob"]),
    ).json["decision_id"]
    assert again
    stale = client.post(
        f"/api/v1/reviews/{item.id}/undo", json={"decision_id": mine}, headers=auth(tokens["alice"])
    )
    assert stale.status_code == 409
    db_session.expire_all()
    stored = db_session.get(Comment, item.id)
    assert stored is not None
    assert stored.status is Status.SPAM


def test_a_disabled_moderator_is_locked_out(
    client: FlaskClient, db_session: Session, tokens: dict[str, str]
) -> None:
    from moderation.services.moderators import disable_moderator, revoke_tokens

    assert client.get("/api/v1/reviews", headers=auth(tokens["bob"])).status_code == 200
    assert revoke_tokens(db_session, name="bob") == 1
    db_session.commit()
    assert client.get("/api/v1/reviews", headers=auth(tokens["bob"])).status_code == 401
    disable_moderator(db_session, name="alice")
    db_session.commit()
    assert client.get("/api/v1/reviews", headers=auth(tokens["alice"])).status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/api/v1/reviews/99999999999999999999/claim", None, 404),
        ("POST", "/api/v1/reviews/99999999999999999999/decision", {"action": "approve"}, 404),
        ("POST", "/api/v1/reviews/99999999999999999999/release", None, 404),
        ("GET", "/api/v1/comments/99999999999999999999/history", None, 404),
        (
            "POST",
            "/api/v1/reviews/bulk",
            {"ids": [99999999999999999999], "action": "approve"},
            422,  # an id no row can have is an invalid id in a body
        ),
    ],
)
def test_huge_ids_are_not_found_not_500(
    client: FlaskClient, tokens: dict[str, str], method: str, path: str, body: Any, status: int
) -> None:
    response = client.open(path, method=method, json=body, headers=auth(tokens["alice"]))
    assert response.status_code == status


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ("page=0", "page", "out_of_range"),
        ("page=abc", "page", "invalid_number"),
        ("per_page=201", "per_page", "out_of_range"),
        ("per_page=1.5", "per_page", "invalid_number"),
    ],
)
def test_bad_paging_of_the_queue_is_422(
    client: FlaskClient, tokens: dict[str, str], query: str, field: str, code: str
) -> None:
    response = client.get(f"/api/v1/reviews?{query}", headers=auth(tokens["alice"]))
    assert response.status_code == 422
    assert [(e["field"], e["code"]) for e in response.json["errors"]] == [(field, code)]
