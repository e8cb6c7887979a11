"""POST /comments: validation, decisions, storage and the answers (JSON and form)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moderation.domain.policy import Status
from moderation.storage.db import utcnow
from moderation.storage.tables import Comment, DecisionRecord, Prediction
from tests.factories import make_comment, make_moderator

pytestmark = pytest.mark.functional


def payload(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "comment": "The council should publish the full report before the vote.",
        "author": "Maria Lopez",
        "email": "maria@example.org",
        "url": "",
        "comment_post_ID": "42",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def count(session: Session, table: type) -> int:
    return session.scalar(select(func.count()).select_from(table)) or 0


def test_json_post_is_stored_with_metadata_scores_and_decision(
    client: FlaskClient, db_session: Session
) -> None:
    response = client.post(
        "/comments",
        json=payload(url="https://maria.example.org"),
        headers={"User-Agent": "Mozilla/5.0 test", "Referer": "https://news.example/a/42"},
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    )
    assert response.status_code == 201
    body = response.json
    assert body["status"] == "approved"
    assert body["message"] == "Your comment has been published."
    assert response.headers["Location"] == f"/comments/{body['id']}"
    assert "scores" not in body
    assert "reasons" not in body
    comment = db_session.get(Comment, body["id"])
    assert comment is not None
    assert comment.ip == "203.0.113.7"
    assert comment.user_agent == "Mozilla/5.0 test"
    assert comment.referrer == "https://news.example/a/42"
    assert comment.url == "https://maria.example.org"
    assert comment.created_at.tzinfo is not None
    (prediction,) = comment.predictions
    assert (prediction.model_version, prediction.spam, prediction.abuse) == ("fixed", 0.01, 0.01)
    (decision,) = comment.decisions
    assert decision.actor == "system"
    assert decision.status is Status.APPROVED
    assert decision.reasons[0]["code"] == "model_clear"


def test_friendlier_json_aliases_are_accepted(client: FlaskClient) -> None:
    response = client.post(
        "/comments",
        json={"content": "Fair point.", "name": "Ann", "email": "ann@example.org", "article_id": 7},
    )
    assert response.status_code == 201


def test_every_bad_field_is_reported_at_once(client: FlaskClient, db_session: Session) -> None:
    response = client.post(
        "/comments",
        json={
            "comment": "  ",
            "author": "",
            "email": "not-an-email",
            "url": "ftp://x.example",
            "comment_post_ID": "",
        },
    )
    assert response.status_code == 422
    errors = {(e["field"], e["code"]) for e in response.json["errors"]}
    assert errors == {
        ("comment", "require_valid_comment"),
        ("author", "require_name"),
        ("email", "require_valid_email"),
        ("url", "invalid_url"),
        ("comment_post_ID", "require_article"),
    }
    messages = {e["code"]: e["message"] for e in response.json["errors"]}
    assert messages["require_valid_comment"] == "Please enter your comment!"
    assert messages["require_name"] == "Please enter your name here"
    assert messages["require_valid_email"] == "You have entered an incorrect email address!"
    assert count(db_session, Comment) == 0


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("author", "a" * 246, "comment_author_column_length"),
        ("email", "a" * 95 + "@x.org", "comment_author_email_column_length"),
        ("url", "https://example.org/" + "a" * 190, "comment_author_url_column_length"),
        ("comment", "é" * 32763, "comment_too_long"),  # 65,526 bytes
        ("url", "javascript:alert(1)", "invalid_url"),
        ("comment_parent", "abc", "invalid_parent"),
        ("comment_post_ID", "42; DROP TABLE comments", "invalid_article"),
    ],
)
def test_limits_and_formats(client: FlaskClient, field: str, value: str, code: str) -> None:
    response = client.post("/comments", json=payload(**{field: value}))
    assert response.status_code == 422
    assert (field, code) in {(e["field"], e["code"]) for e in response.json["errors"]}


def test_limits_are_inclusive(client: FlaskClient) -> None:
    response = client.post(
        "/comments",
        json=payload(author="a" * 245, comment="é" * 32762 + "a"),  # 65,525 bytes exactly
    )
    assert response.status_code == 201


def test_form_post_redirects_to_an_allowed_origin(
    make_app: Callable[..., Flask], db_session: Session
) -> None:
    client = make_app(SITE_ORIGINS=["https://news.example"]).test_client()
    response = client.post(
        "/comments", data=payload(redirect_to="https://news.example/2026/story?x=1")
    )
    assert response.status_code == 303
    stored = db_session.scalars(select(Comment)).one()
    assert (
        response.headers["Location"] == f"https://news.example/2026/story?x=1#comment-{stored.id}"
    )


def test_form_post_to_another_origin_gets_a_page_instead(make_app: Callable[..., Flask]) -> None:
    client = make_app(SITE_ORIGINS=["https://news.example"]).test_client()
    response = client.post("/comments", data=payload(redirect_to="https://evil.example/phish"))
    assert response.status_code == 201
    assert response.mimetype == "text/html"
    assert b"Your comment has been published." in response.data


@pytest.mark.parametrize("target", ["/\\evil.example/phish", "//evil.example"])
def test_a_path_that_browsers_read_as_another_host_is_not_followed(
    make_app: Callable[..., Flask], target: str
) -> None:
    client = make_app().test_client()
    response = client.post("/comments", data=payload(redirect_to=target))
    assert response.status_code == 201
    assert response.mimetype == "text/html"
    assert "Location" not in response.headers


def test_pending_form_post_carries_the_author_token(make_app: Callable[..., Flask]) -> None:
    app = make_app(FIXED_SCORES={"spam": 0.6, "abuse": 0.01}, SITE_ORIGINS=["https://news.example"])
    response = app.test_client().post(
        "/comments", data=payload(redirect_to="https://news.example/story")
    )
    assert response.status_code == 303
    location = response.headers["Location"]
    assert "unapproved=" in location
    assert "moderation-hash=" in location
    assert location.endswith("#respond")


def test_form_errors_reshow_the_typed_text_escaped(
    client: FlaskClient, db_session: Session
) -> None:
    response = client.post(
        "/comments",
        data={
            "comment": "<script>alert('x')</script> my words",
            "author": "",
            "email": "bad",
            "comment_post_ID": "42",
        },
        headers={"Accept": "text/html"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Please enter your name here" in html
    assert "You have entered an incorrect email address!" in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; my words" in html
    assert "<script>alert" not in html
    assert count(db_session, Comment) == 0


def test_duplicate_is_409(client: FlaskClient) -> None:
    assert client.post("/comments", json=payload()).status_code == 201
    again = client.post(
        "/comments",
        json=payload(comment="  the council should publish the FULL report before the vote. "),
        environ_base={"REMOTE_ADDR": "198.51.100.9"},
    )
    assert again.status_code == 409
    assert again.json["error"] == "comment_duplicate"


@pytest.mark.parametrize("same", ["ip", "email"])
def test_flood_is_429_with_retry_after(client: FlaskClient, same: str) -> None:
    first = client.post("/comments", json=payload(), environ_base={"REMOTE_ADDR": "192.0.2.1"})
    assert first.status_code == 201
    second = client.post(
        "/comments",
        json=payload(
            comment="A different remark.",
            email="maria@example.org" if same == "email" else "other@example.org",
        ),
        environ_base={"REMOTE_ADDR": "192.0.2.1" if same == "ip" else "192.0.2.2"},
    )
    assert second.status_code == 429
    assert 1 <= int(second.headers["Retry-After"]) <= 15
    assert second.json["error"] == "comment_flood"


def test_flood_interval_comes_from_config(make_app: Callable[..., Flask]) -> None:
    client = make_app(FLOOD_SECONDS=0).test_client()
    assert client.post("/comments", json=payload()).status_code == 201
    assert client.post("/comments", json=payload(comment="Another")).status_code == 201


def test_honeypot_is_spam_but_the_sender_sees_pending(
    make_app: Callable[..., Flask], db_session: Session
) -> None:
    client = make_app(FIXED_SCORES={"spam": 0.6, "abuse": 0.01}).test_client()
    response = client.post("/comments", data={**payload(), "fax_number": "12345"})
    assert response.status_code == 201
    comment = db_session.scalars(select(Comment)).one()
    assert comment.status is Status.SPAM
    assert comment.decisions[0].reasons[0]["code"] == "honeypot"
    answer = client.post(
        "/comments",
        json={**payload(comment="other", email="x@example.org"), "fax_number": "1"},
        environ_base={"REMOTE_ADDR": "192.0.2.50"},
    )
    assert answer.json["status"] == "pending"


def test_a_bot_trap_on_a_comment_that_reads_clean_waits_for_a_person(
    client: FlaskClient, db_session: Session
) -> None:
    # Browser autofill can fill a hidden field: a clean comment is held, not buried as spam.
    response = client.post("/comments", data={**payload(), "fax_number": "12345"})
    assert response.status_code == 201
    comment = db_session.scalars(select(Comment)).one()
    assert comment.status is Status.PENDING
    assert comment.decisions[0].reasons[0]["code"] == "honeypot"


def test_form_token_marks_bots_that_are_too_fast_or_forge_it(
    client: FlaskClient, db_session: Session
) -> None:
    token = client.get("/comments/form-token").json["token"]
    fast = client.post("/comments", json={**payload(), "form_token": token})
    assert fast.json["status"] == "pending"
    forged = client.post(
        "/comments",
        json={**payload(comment="two", email="b@example.org"), "form_token": token + "x"},
        environ_base={"REMOTE_ADDR": "192.0.2.60"},
    )
    assert forged.json["status"] == "pending"
    codes = [
        c.decisions[0].reasons[0]["code"]
        for c in db_session.scalars(select(Comment).order_by(Comment.id))
    ]
    assert codes == ["too_fast", "bad_form_token"]


def test_a_form_token_older_than_the_minimum_is_fine(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = client.get("/comments/form-token").json["token"]
    later = time.time() + 10
    monkeypatch.setattr(time, "time", lambda: later)
    response = client.post("/comments", json={**payload(), "form_token": token})
    assert response.json["status"] == "approved"


def test_site_client_sees_scores_reasons_and_the_true_status(
    app: Flask, db_session: Session
) -> None:
    from moderation.services.sitekeys import create_site_key

    _, key = create_site_key(db_session, name="news-site")
    db_session.commit()
    client = app.test_client()
    response = client.post(
        "/comments",
        json={
            **payload(),
            "fax_number": "bot",
            "user_ip": "198.51.100.23",
            "user_agent": "Forwarded UA",
        },
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201
    body = response.json
    assert body["status"] == "pending"  # a honeypot on a clean comment: a person looks
    assert body["scores"] == {"spam": 0.01, "abuse": 0.01}
    assert body["reasons"][0]["code"] == "honeypot"
    assert body["model_version"] == "fixed"
    comment = db_session.get(Comment, body["id"])
    assert comment is not None
    assert (comment.ip, comment.user_agent) == ("198.51.100.23", "Forwarded UA")


def test_a_wrong_key_is_401_not_anonymous(client: FlaskClient) -> None:
    response = client.post("/comments", json=payload(), headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_author_token_reveals_only_their_own_pending_comment(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(FIXED_SCORES={"spam": 0.6, "abuse": 0.01}).test_client()
    body = client.post("/comments", json=payload()).json
    assert body["status"] == "pending"
    url = f"/comments/{body['id']}"
    anonymous = client.get(url).json
    assert anonymous["status"] == "pending"
    assert "content" not in anonymous
    mine = client.get(url, query_string={"token": body["author_token"]}).json
    assert mine["content"] == payload()["comment"]
    other = client.post(
        "/comments",
        json=payload(comment="x", email="y@example.org"),
        environ_base={"REMOTE_ADDR": "192.0.2.99"},
    ).json
    assert "content" not in client.get(url, query_string={"token": other["author_token"]}).json
    assert client.get("/comments/999999").status_code == 404


@pytest.mark.parametrize(
    ("config", "overrides", "status", "code"),
    [
        ({"BLOCKED_IPS": ["192.0.2.77"]}, {}, "spam", "blocked_ip"),
        ({"BLOCKED_EMAILS": ["maria@example.org"]}, {}, "spam", "blocked_email"),
        (
            {"BLOCKED_DOMAINS": ["spam.example"]},
            {"url": "https://www.spam.example/x"},
            "spam",
            "blocked_domain",
        ),
        (
            {"BANNED_WORDS": ["scumbag"]},
            {"comment": "What a sc*mbag, scUmBaG!"},
            "rejected",
            "banned_word",
        ),
        (
            {"SUSPECT_WORDS": ["lawsuit"]},
            {"comment": "There will be a lawsuit."},
            "pending",
            "suspect_word",
        ),
        (
            {},
            {"comment": "see http://a.example http://b.example http://c.example"},
            "pending",
            "too_many_links",
        ),
        ({"SPAM_REJECT": 0.005}, {}, "spam", "spam_score"),
        ({"ABUSE_ALLOW": 0.005}, {}, "pending", "abuse_uncertain"),
    ],
)
def test_rules_and_threshold_overrides(
    make_app: Callable[..., Flask],
    db_session: Session,
    config: dict[str, Any],
    overrides: dict[str, Any],
    status: str,
    code: str,
) -> None:
    client = make_app(**config).test_client()
    response = client.post(
        "/comments", json=payload(**overrides), environ_base={"REMOTE_ADDR": "192.0.2.77"}
    )
    assert response.status_code == 201
    comment = db_session.get(Comment, response.json["id"])
    assert comment is not None
    assert comment.status.value == status
    assert code in [r["code"] for r in comment.decisions[0].reasons]


def test_a_trusted_author_skips_review_when_the_model_is_unsure(
    make_app: Callable[..., Flask], db_session: Session
) -> None:
    moderator = make_moderator(db_session)
    for i in range(2):
        make_comment(
            db_session,
            approved_by=moderator,
            email="regular@example.org",
            content=f"old {i}",
            created_at=utcnow() - timedelta(days=3),
        )
        # approvals by the model alone buy no trust
        make_comment(
            db_session,
            email="eve@example.org",
            content=f"bland {i}",
            created_at=utcnow() - timedelta(days=3),
        )
    client = make_app(FIXED_SCORES={"spam": 0.6, "abuse": 0.01}, FLOOD_SECONDS=0).test_client()
    # Typing a regular's email proves nothing: no trust without continuity.
    impostor = client.post("/comments", json=payload(email="Regular@Example.org"))
    assert impostor.json["status"] == "pending"
    # The regular's own browser carries the cookie from their last comment.
    client.set_cookie(
        "moderation_author", _author_cookie(client, "regular@example.org"), domain="localhost"
    )
    trusted = client.post(
        "/comments",
        json=payload(email="Regular@Example.org", comment="back again"),
        environ_base={"REMOTE_ADDR": "192.0.2.202"},
    )
    assert trusted.json["status"] == "approved"
    eve = client.post(
        "/comments",
        json=payload(email="eve@example.org", comment="eve again"),
        environ_base={"REMOTE_ADDR": "192.0.2.201"},
    )
    assert eve.json["status"] == "pending"
    stranger = client.post(
        "/comments",
        json=payload(email="new@example.org", comment="new words"),
        environ_base={"REMOTE_ADDR": "192.0.2.200"},
    )
    assert stranger.json["status"] == "pending"


def test_without_a_model_every_comment_waits(
    make_app: Callable[..., Flask], tmp_path: Any, db_session: Session
) -> None:
    app = make_app(SCORER_BACKEND="sklearn", MODELS_DIR=str(tmp_path), SHIPPED_MODELS_DIR="")
    client = app.test_client()
    response = client.post("/comments", json=payload())
    assert response.json["status"] == "pending"
    comment = db_session.get(Comment, response.json["id"])
    assert comment is not None
    assert comment.predictions == []
    assert comment.decisions[0].reasons[0]["code"] == "model_unavailable"
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json["model_loaded"] is False


def test_a_failing_model_sends_the_comment_to_review(app: Flask, db_session: Session) -> None:
    class Broken:
        version = "broken"
        thresholds = app.extensions["moderation.scorer"].scorer.thresholds

        def score_many(self, comments: Any) -> Any:
            raise RuntimeError("boom")

    app.extensions["moderation.scorer"].scorer = Broken()
    response = app.test_client().post("/comments", json=payload())
    assert response.status_code == 201
    assert response.json["status"] == "pending"
    assert count(db_session, Prediction) == 0
    assert count(db_session, DecisionRecord) == 1


def test_the_real_model_decides(make_app: Callable[..., Flask], db_session: Session) -> None:
    client = make_app(SCORER_BACKEND="sklearn").test_client()
    civil = client.post("/comments", json=payload())
    spam = client.post(
        "/comments",
        json=payload(
            comment="Great post! Buy cheap viagra without prescription, best prices, fast "
            "shipping: https://cheap-pills-store.xyz/viagra",
            author="cheap viagra online",
            email="sales@cheap-pills-store.xyz",
            url="https://cheap-pills-store.xyz",
        ),
        environ_base={"REMOTE_ADDR": "192.0.2.31"},
    )
    assert civil.json["status"] == "approved"
    assert spam.json["status"] == "pending"  # spam, shown to its sender as pending
    stored = db_session.get(Comment, spam.json["id"])
    assert stored is not None
    assert stored.status is Status.SPAM
    assert stored.predictions[0].spam > 0.9


def test_article_ids_with_slashes_are_listed(client: FlaskClient) -> None:
    response = client.post("/comments", json=payload(comment_post_ID="2025/11/city-budget"))
    assert response.status_code == 201
    listed = client.get("/articles/2025/11/city-budget/comments").json
    assert listed["article_id"] == "2025/11/city-budget"
    assert [c["id"] for c in listed["comments"]] == [response.json["id"]]


def test_a_comment_in_another_language_waits_for_a_human(app: Flask, db_session: Session) -> None:
    from moderation.services.sitekeys import create_site_key

    _, key = create_site_key(db_session, name="news-site")
    db_session.commit()
    german = "Das ist ein sehr guter Artikel, danke für die ausführlichen Informationen."
    response = app.test_client().post(
        "/comments",
        json=payload(comment=german),
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201
    assert response.json["status"] == "pending"
    assert response.json["reasons"][0] == {
        "code": "unsupported_language",
        "detail": "written in de",
    }
    english = app.test_client().post(
        "/comments",
        json={
            **payload(comment="Danke! A very fair article.", email="second@example.org"),
            "user_ip": "198.51.100.99",
        },
        headers={"Authorization": f"Bearer {key}"},
    )
    assert english.json["status"] == "approved"


def _author_cookie(client: FlaskClient, email: str) -> str:
    """The author cookie a comment posted from this browser with ``email`` would have set."""
    app = client.application
    with app.test_request_context():
        from moderation.web.comments import _author_cookie_value

        return _author_cookie_value(email)


def test_a_site_backend_can_vouch_for_a_signed_in_author(
    make_app: Callable[..., Flask], db_session: Session
) -> None:
    from moderation.services.sitekeys import create_site_key

    moderator = make_moderator(db_session)
    for i in range(2):
        make_comment(
            db_session,
            approved_by=moderator,
            email="member@example.org",
            content=f"earlier {i}",
            created_at=utcnow() - timedelta(days=3),
        )
    _, key = create_site_key(db_session, name="news")
    db_session.commit()
    client = make_app(FIXED_SCORES={"spam": 0.6, "abuse": 0.01}, FLOOD_SECONDS=0).test_client()
    auth = {"Authorization": f"Bearer {key}"}
    unvouched = client.post("/comments", json=payload(email="member@example.org"), headers=auth)
    assert unvouched.json["status"] == "pending"
    vouched = client.post(
        "/comments",
        json={**payload(email="member@example.org", comment="again"), "verified_author": True},
        headers=auth,
    )
    assert vouched.json["status"] == "approved"
    # From anyone but a site backend, the claim is ignored.
    ignored = client.post(
        "/comments",
        json={**payload(email="member@example.org", comment="third"), "verified_author": True},
        environ_base={"REMOTE_ADDR": "192.0.2.203"},
    )
    assert ignored.json["status"] == "pending"


def test_a_browser_without_the_form_token_is_held_and_a_token_posts_once(
    make_app: Callable[..., Flask], db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_app(REQUIRE_FORM_TOKEN=True, FLOOD_SECONDS=0).test_client()
    missing = client.post("/comments", data=payload())
    assert missing.status_code == 201  # no redirect_to: the answer is a page
    first = db_session.scalars(select(Comment)).one()
    assert first.status is Status.PENDING
    assert first.decisions[0].reasons[0]["code"] == "no_form_token"
    token = client.get("/comments/form-token").json["token"]
    later = time.time() + 10
    monkeypatch.setattr(time, "time", lambda: later)  # the reader took ten seconds
    ok = client.post("/comments", json={**payload(comment="with its token"), "form_token": token})
    assert ok.json["status"] == "approved"
    replay = client.post(
        "/comments",
        json={
            **payload(comment="the same token again", email="b@example.org"),
            "form_token": token,
        },
    )
    assert replay.json["status"] == "pending"
    replayed = db_session.get(Comment, replay.json["id"])
    assert replayed is not None
    assert replayed.decisions[0].reasons[0]["code"] == "replayed_form_token"
