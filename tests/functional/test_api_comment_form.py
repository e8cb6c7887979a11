"""The reply form without JavaScript: honest answer pages, the typed text kept, "save my name"."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from moderation.web.commenter import FORM_TOKEN_FIELD

pytestmark = pytest.mark.functional

HOSTILE = "<script>alert('x')</script> You scumbag & co"
HTML = {"Accept": "text/html"}


def form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "comment": "The council should publish the full report before the vote.",
        "author": "Maria <b>Lopez</b>",
        "email": "maria@example.org",
        "url": "",
        "comment_post_ID": "demo-article",
        "comment_parent": "0",
        "redirect_to": "/demo/article",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def set_cookies(response: Any) -> dict[str, str]:
    """name -> the whole Set-Cookie line, for the cookies this answer sets or clears."""
    return {
        line.split("=", 1)[0]: line
        for line in response.headers.getlist("Set-Cookie")
        if "=" in line
    }


def test_a_refused_comment_gets_an_honest_page_with_its_text_in_the_form(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(BANNED_WORDS=["scumbag"]).test_client()
    response = client.post(
        "/comments",
        data=form(comment=HOSTILE, **{"wp-comment-cookies-consent": "yes"}),
        headers={**HTML, "Referer": "http://localhost/demo/article"},
    )
    assert response.status_code == 201  # stored, as refused
    html = response.get_data(as_text=True)
    assert "<title>Your comment was not published</title>" in html
    assert "Thank you" not in html
    assert 'class="errors" role="alert"' in html
    assert "does not follow our community guidelines" in html
    # the text, escaped, in the form to be changed and sent again, with the rest of the form
    assert (
        '<textarea id="comment" name="comment">&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; '
        "You scumbag &amp; co</textarea>"
    ) in html
    assert "<script>alert" not in html
    assert 'value="Maria &lt;b&gt;Lopez&lt;/b&gt;"' in html
    assert 'value="maria@example.org"' in html
    assert '<input type="hidden" name="comment_post_ID" value="demo-article">' in html
    assert '<input type="hidden" name="redirect_to" value="/demo/article">' in html
    assert re.search(r'id="wp-comment-cookies-consent"[^>]* checked', html)
    # the refused comment spent the page's token: the form carries a fresh one
    assert f'name="{FORM_TOKEN_FIELD}" value="' in html
    assert 'href="/demo/article">Back to the article' in html


def test_published_and_held_pages_say_what_happened(make_app: Callable[..., Flask]) -> None:
    published = make_app().test_client().post("/comments", data=form(redirect_to=""), headers=HTML)
    assert "<title>Your comment has been published</title>" in published.get_data(as_text=True)
    held = (
        make_app(FIXED_SCORES={"spam": 0.6, "abuse": 0.01})
        .test_client()
        .post(
            "/comments",
            data=form(redirect_to="", email="held@example.org"),
            headers=HTML,
            environ_base={"REMOTE_ADDR": "192.0.2.60"},
        )
    )
    page = held.get_data(as_text=True)
    assert "<title>Your comment is awaiting moderation</title>" in page
    assert 'class="notice pending"' in page
    assert "Maria &lt;b&gt;Lopez&lt;/b&gt;" in page


def test_a_flood_answer_keeps_the_typed_text_and_the_unspent_token(client: FlaskClient) -> None:
    here = {"REMOTE_ADDR": "192.0.2.61"}
    assert client.post("/comments", data=form(), headers=HTML, environ_base=here).status_code == 303
    refused = client.post(
        "/comments",
        data=form(comment=HOSTILE, **{FORM_TOKEN_FIELD: "the-page-token"}),
        headers=HTML,
        environ_base=here,
    )
    assert refused.status_code == 429
    html = refused.get_data(as_text=True)
    assert "You are posting comments too quickly" in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; You scumbag &amp; co</textarea>" in html
    assert f'name="{FORM_TOKEN_FIELD}" value="the-page-token"' in html  # nothing was stored


def test_save_my_name_sets_cookies_only_when_ticked_and_clears_them_when_not(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(FLOOD_SECONDS=0).test_client()
    ticked = client.post(
        "/comments",
        data=form(url="https://maria.example/ü", **{"wp-comment-cookies-consent": "yes"}),
        headers=HTML,
        environ_base={"REMOTE_ADDR": "192.0.2.62"},
    )
    assert ticked.status_code == 303
    cookies = set_cookies(ticked)
    for name in ("comment_author", "comment_author_email", "comment_author_url"):
        assert "Max-Age=30000000" in cookies[name]
        assert "SameSite=Lax" in cookies[name]
        assert "HttpOnly" in cookies[name]
    # the demo article fills the form in from them (escaped), and the box stays ticked
    page = client.get("/demo/article").get_data(as_text=True)
    assert 'value="Maria &lt;b&gt;Lopez&lt;/b&gt;"' in page
    assert 'value="maria@example.org"' in page
    assert 'value="https://maria.example/ü"' in page
    assert re.search(r'id="wp-comment-cookies-consent"[^>]* checked', page)

    unticked = client.post(
        "/comments",
        data=form(comment="Another remark entirely."),
        headers=HTML,
        environ_base={"REMOTE_ADDR": "192.0.2.63"},
    )
    cleared = set_cookies(unticked)
    for name in ("comment_author", "comment_author_email", "comment_author_url"):
        assert "Expires=Thu, 01 Jan 1970" in cleared[name]
    page = client.get("/demo/article").get_data(as_text=True)
    assert "maria@example.org" not in page
    assert not re.search(r'id="wp-comment-cookies-consent"[^>]* checked', page)

    # nothing kept, nothing ticked: the answer carries no such cookie at all
    plain = client.post(
        "/comments",
        data=form(comment="A third remark."),
        headers=HTML,
        environ_base={"REMOTE_ADDR": "192.0.2.64"},
    )
    assert not {"comment_author", "comment_author_email", "comment_author_url"} & set(
        set_cookies(plain)
    )


def test_a_json_post_with_consent_also_saves_the_name(client: FlaskClient) -> None:
    response = client.post(
        "/comments",
        json={**form(), "wp-comment-cookies-consent": "yes"},
        environ_base={"REMOTE_ADDR": "192.0.2.65"},
    )
    assert response.status_code == 201
    # a browser's JSON post may keep the name too (the demo's fetch does)
    assert "comment_author" in set_cookies(response)


def test_the_demo_article_threads_replies_with_times_reply_links_and_plurals(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(FLOOD_SECONDS=0).test_client()

    def post(n: int, **fields: Any) -> Any:
        return client.post(
            "/comments",
            json=form(comment=f"Remark number {n} on the vote.", redirect_to="", **fields),
            environ_base={"REMOTE_ADDR": f"192.0.2.{70 + n}"},
        ).json

    assert '<span id="comment-count">0</span> <span id="comment-noun">comments</span>' in (
        client.get("/demo/article").get_data(as_text=True)
    )
    first = post(1)
    page = client.get("/demo/article").get_data(as_text=True)
    assert '<span id="comment-count">1</span> <span id="comment-noun">comment</span>' in page
    assert f'href="/demo/article?replytocom={first["id"]}#respond"' in page
    assert re.search(
        r'<time datetime="[0-9T:.+-]+">\d{1,2} \w+ \d{4} at \d\d:\d\d UTC</time>', page
    )
    reply = post(2, comment_parent=str(first["id"]))
    assert reply["status"] == "approved"
    page = client.get("/demo/article").get_data(as_text=True)
    assert '<span id="comment-count">2</span> <span id="comment-noun">comments</span>' in page
    # the reply sits inside its parent's replies
    parent = page.index(f'id="comment-{first["id"]}"')
    assert parent < page.index(f'id="comment-{reply["id"]}"')
    # ?replytocom= (no JavaScript): the form replies to that comment
    answering = client.get(f"/demo/article?replytocom={first['id']}").get_data(as_text=True)
    assert f'name="comment_parent" value="{first["id"]}"' in answering
    assert 'Leave a reply<span id="reply-to-name"> to Maria &lt;b&gt;Lopez&lt;/b&gt;' in answering
    # an unknown or unpublished comment is not offered as a parent
    assert 'name="comment_parent" value="0"' in client.get(
        "/demo/article?replytocom=999999"
    ).get_data(as_text=True)
