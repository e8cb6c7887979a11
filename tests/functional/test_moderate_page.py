"""The moderator web page through the test client: sign-in, CSRF, escaping, highlights."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from moderation.domain.policy import Status
from moderation.storage.tables import Comment
from moderation.web.moderate import highlight
from tests.factories import make_moderator, make_pending

pytestmark = pytest.mark.functional


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'name="csrf-token" content="([^"]+)"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


def sign_in(client: FlaskClient, name: str = "mod", password: str = "correct horse") -> str:
    page = client.get("/moderate/login").get_data(as_text=True)
    response = client.post(
        "/moderate/login", data={"name": name, "password": password, "csrf_token": _csrf(page)}
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return _csrf(client.get("/moderate").get_data(as_text=True))


def test_the_queue_needs_sign_in(client: FlaskClient) -> None:
    response = client.get("/moderate")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/moderate/login")


def test_wrong_password_and_missing_csrf_are_refused(
    client: FlaskClient, db_session: Session
) -> None:
    make_moderator(db_session)
    db_session.commit()
    page = client.get("/moderate/login").get_data(as_text=True)
    wrong = client.post(
        "/moderate/login", data={"name": "mod", "password": "nope", "csrf_token": _csrf(page)}
    )
    assert wrong.status_code == 200
    assert "Wrong name or password." in wrong.get_data(as_text=True)
    forged = client.post("/moderate/login", data={"name": "mod", "password": "correct horse"})
    assert "expired" in forged.get_data(as_text=True)
    assert client.get("/moderate").status_code == 303


def test_the_queue_page_shows_everything_escaped(client: FlaskClient, db_session: Session) -> None:
    make_moderator(db_session)
    make_pending(
        db_session,
        author="<b>Eve</b>",
        content="<script>alert('x')</script> you f4cking idiot",
        url="https://eve.example/?q=<script>",
        article_id="story-<1>",
    )
    db_session.commit()
    sign_in(client)
    html = client.get("/moderate").get_data(as_text=True)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html
    # the article link leads to the article (here: the queue narrowed to it), never to JSON
    assert 'class="article" href="/moderate?tab=all&amp;article=story-%3C1%3E"' in html
    assert "/articles/" not in html
    assert "Author history" in html
    assert "spam_uncertain" in html
    # reasons in plain words next to the comment, scores beside their thresholds
    assert "The spam model is unsure" in html
    assert "published below 0.50, refused from 0.90" in html
    assert "in the review band" in html


def test_session_writes_need_the_csrf_header(client: FlaskClient, db_session: Session) -> None:
    make_moderator(db_session)
    item = make_pending(db_session)
    db_session.commit()
    token = sign_in(client)
    without = client.post(f"/api/v1/reviews/{item.id}/decision", json={"action": "approve"})
    assert without.status_code == 403
    assert "CSRF" in without.json["message"]
    with_token = client.post(
        f"/api/v1/reviews/{item.id}/decision",
        json={"action": "approve"},
        headers={"X-CSRFToken": token},
    )
    assert with_token.status_code == 200


def test_highlights_use_the_real_models_explanation_stored_at_intake(
    make_app: Callable[..., Flask], db_session: Session
) -> None:
    make_moderator(db_session)
    db_session.commit()
    # Nothing refused outright: the insult waits for review, with its explanation kept.
    client = make_app(SCORER_BACKEND="sklearn", ABUSE_REJECT=1.0, SPAM_REJECT=1.0).test_client()
    posted = client.post(
        "/comments",
        json={
            "comment": "Shut up you stupid id10t",
            "author": "Eve",
            "email": "eve@example.org",
            "comment_post_ID": "story",
        },
    )
    assert posted.status_code == 201
    comment = db_session.get(Comment, posted.json["id"])
    assert comment is not None
    assert comment.status is Status.PENDING
    prediction = comment.predictions[-1]
    assert prediction.explanation is not None
    assert prediction.thresholds is not None
    sign_in(client)
    html = client.get("/moderate").get_data(as_text=True)
    assert re.search(r'<mark class="abuse">[^<]*id10t[^<]*</mark>', html)


def test_highlight_segments_cover_the_text() -> None:
    spans = {"abuse": [{"feature": "idiot", "weight": 2.0, "spans": [[4, 9]]}], "spam": []}
    segments = highlight("you idiot!", spans)
    assert "".join(s["text"] for s in segments) == "you idiot!"
    assert [s["head"] for s in segments] == [None, "abuse", None]


def test_a_new_password_or_a_lock_out_ends_every_sign_in(
    make_app: Callable[..., Flask], db_session: Session
) -> None:
    from moderation.services.moderators import disable_moderator, enable_moderator, set_password

    make_moderator(db_session)
    db_session.commit()
    app = make_app()
    stolen, other = app.test_client(), app.test_client()
    sign_in(stolen)
    assert stolen.get("/moderate").status_code == 200

    # A new password: the session made with the old one ends; a new sign-in works.
    set_password(db_session, name="mod", password="a brand new password")
    db_session.commit()
    assert stolen.get("/moderate").status_code == 303
    sign_in(other, password="a brand new password")
    assert other.get("/moderate").status_code == 200

    # Locked out and let in again: the sessions from before the lock-out stay ended.
    disable_moderator(db_session, name="mod")
    enable_moderator(db_session, name="mod")
    db_session.commit()
    assert other.get("/moderate").status_code == 303
    sign_in(other, password="a brand new password")
    assert other.get("/moderate").status_code == 200
