"""The Akismet compatibility API, driven by the real ``akismet`` client and by raw requests.

The client posts to ``https://rest.akismet.com/1.1/...``; an ``httpx.WSGITransport`` hands every
request, whatever its host, to the app, as a changed API address would in production.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import akismet
import httpx
import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moderation.services.authors import set_rule
from moderation.services.sitekeys import create_site_key, revoke_site_key
from moderation.storage.tables import Comment, FeedbackLabel, Prediction
from tests.factories import make_moderator

pytestmark = pytest.mark.functional

BLOG = "https://news.example"
FORM = "application/x-www-form-urlencoded"
SPAM: dict[str, Any] = {
    "comment_type": "comment",
    "comment_author": "cheap viagra online",
    "comment_author_email": "sales@cheap-pills-store.xyz",
    "comment_author_url": "https://cheap-pills-store.xyz",
    "comment_content": "Great post! Buy cheap viagra without prescription, best prices, fast "
    "shipping: https://cheap-pills-store.xyz/viagra",
}
CIVIL: dict[str, Any] = {
    "comment_type": "reply",
    "comment_author": "Maria Lopez",
    "comment_author_email": "maria@example.org",
    "comment_content": "I disagree with the minister, but the article is a fair summary of the "
    "council vote.",
    "permalink": "https://news.example/2026/council-vote",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
    "referrer": "https://news.example/",
    "blog_lang": "en",
    "blog_charset": "UTF-8",
}
IP = "198.51.100.23"


class AddFields(httpx.BaseTransport):
    """Appends fields to each form post, as plugins send a honeypot field the client omits."""

    def __init__(self, inner: httpx.BaseTransport, fields: dict[str, str]) -> None:
        self.inner = inner
        self.fields = fields

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read() + b"&" + urlencode(self.fields).encode()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        return self.inner.handle_request(
            httpx.Request(request.method, request.url, headers=headers, content=body)
        )


Connect = Callable[..., akismet.SyncClient]


@pytest.fixture
def site_key(db_session: Session) -> str:
    """A site key for site "blog", committed."""
    _, key = create_site_key(db_session, name="blog")
    db_session.commit()
    return key


@pytest.fixture
def model_app(make_app: Callable[..., Flask]) -> Flask:
    """The app scoring with the shipped model."""
    return make_app(SCORER_BACKEND="sklearn")


@pytest.fixture
def connect(site_key: str) -> Iterator[Connect]:
    """Build real Akismet clients talking to an app (closed after the test)."""
    http_clients: list[httpx.Client] = []

    def factory(
        app: Flask,
        key: str | None = None,
        url: str = BLOG,
        extra_fields: dict[str, str] | None = None,
    ) -> akismet.SyncClient:
        transport: httpx.BaseTransport = httpx.WSGITransport(app=app)
        if extra_fields:
            transport = AddFields(transport, extra_fields)
        http = httpx.Client(
            transport=transport,
            base_url="https://rest.akismet.com",
            headers={"User-Agent": akismet.USER_AGENT},
        )
        http_clients.append(http)
        return akismet.SyncClient(
            config=akismet.Config(key=site_key if key is None else key, url=url),
            http_client=http,
        )

    yield factory
    for http in http_clients:
        http.close()


def count(session: Session, table: type) -> int:
    return session.scalar(select(func.count()).select_from(table)) or 0


def form(key: str, **fields: Any) -> dict[str, Any]:
    return {"api_key": key, "blog": BLOG, "user_ip": IP, **fields}


# --------------------------------------------------------------------------- verify-key


def test_verify_key(model_app: Flask, connect: Connect, db_session: Session) -> None:
    client = connect(model_app)
    assert client.verify_key() is True
    assert client.verify_key(key="mod_not-a-key", url=BLOG) is False
    assert client.verify_key(key=client._config.key, url="news.example") is False
    with pytest.raises(akismet.APIKeyError):
        akismet.SyncClient.validated_client(
            config=akismet.Config(key="mod_not-a-key", url=BLOG),
            http_client=httpx.Client(transport=httpx.WSGITransport(app=model_app)),
        )
    with connect(model_app) as validated:  # the context manager verifies the key too
        assert validated.usage_limit()["limit"] == "none"
    assert revoke_site_key(db_session, name="blog")
    db_session.commit()
    assert client.verify_key() is False


def test_verify_key_answers_in_plain_text_with_a_reason(model_app: Flask, site_key: str) -> None:
    http = model_app.test_client()
    valid = http.post("/1.1/verify-key", data={"key": site_key, "blog": BLOG})
    assert (valid.status_code, valid.mimetype, valid.text) == (200, "text/plain", "valid")
    for data in (
        {"key": "nope", "blog": BLOG},
        {"blog": BLOG},
        {"key": site_key},
        {"key": site_key, "blog": "javascript:alert(1)"},
        {"key": "x" * 5000, "blog": BLOG},
    ):
        response = http.post("/1.1/verify-key", data=data)
        assert (response.status_code, response.text) == (200, "invalid"), data
        assert response.headers["X-akismet-debug-help"].strip()


# --------------------------------------------------------------------------- comment-check


def test_obvious_spam_is_discarded(model_app: Flask, connect: Connect, db_session: Session) -> None:
    before = (count(db_session, Comment), count(db_session, FeedbackLabel))
    assert connect(model_app).comment_check(IP, **SPAM) == akismet.CheckResponse.DISCARD
    # a check stores nothing
    assert (count(db_session, Comment), count(db_session, FeedbackLabel)) == before
    assert count(db_session, Prediction) == 0


def test_civil_reply_is_ham(model_app: Flask, connect: Connect) -> None:
    client = connect(model_app)
    assert client.comment_check(IP, **CIVIL) == akismet.CheckResponse.HAM
    assert client.comment_check(IP, **CIVIL, is_test=True) == akismet.CheckResponse.HAM


def test_spam_under_the_reject_threshold_is_spam_without_discard(
    make_app: Callable[..., Flask], connect: Connect
) -> None:
    # With reject raised out of reach, the model's certainty no longer makes it blatant.
    app = make_app(SCORER_BACKEND="sklearn", SPAM_REJECT=1.0)
    assert connect(app).comment_check(IP, **SPAM) == akismet.CheckResponse.SPAM


@pytest.mark.parametrize(
    ("spam", "expected"),
    [
        (0.49, akismet.CheckResponse.HAM),  # under allow (0.5)
        (0.5, akismet.CheckResponse.SPAM),  # at allow: uncertain spam goes to the spam folder
        (0.89, akismet.CheckResponse.SPAM),
        (0.9, akismet.CheckResponse.DISCARD),  # at reject
    ],
)
def test_the_spam_thresholds(
    make_app: Callable[..., Flask], connect: Connect, spam: float, expected: Any
) -> None:
    app = make_app(FIXED_SCORES={"spam": spam, "abuse": 0.01})
    assert connect(app).comment_check(IP, **CIVIL) == expected


def test_abuse_the_service_would_refuse_is_spam_with_the_reason(
    make_app: Callable[..., Flask], connect: Connect, site_key: str
) -> None:
    app = make_app(FIXED_SCORES={"spam": 0.01, "abuse": 0.99})
    insult = {**CIVIL, "comment_content": "You are a pathetic excuse for a reporter."}
    assert connect(app).comment_check(IP, **insult) == akismet.CheckResponse.SPAM
    answer = app.test_client().post("/1.1/comment-check", data=form(site_key, **insult))
    assert answer.get_data(as_text=True) == "true"
    assert answer.headers["X-akismet-debug-help"].startswith("Refused as abuse: abuse_score")
    assert "X-akismet-pro-tip" not in answer.headers  # a person may still want to look
    # Abuse that names no one is held by intake, not refused: Akismet hears "not spam".
    assert connect(app).comment_check(IP, **CIVIL) == akismet.CheckResponse.HAM


def test_new_site_keys_fit_the_wordpress_plugin(db_session: Session) -> None:
    _, key = create_site_key(db_session, name="wordpress")
    assert re.fullmatch(r"[0-9a-f]{12}", key)  # the plugin keeps [a-f0-9] and wants 12
    _, long_key = create_site_key(db_session, name="backend", long=True)
    assert re.fullmatch(r"[0-9a-f]{48}", long_key)


def test_the_key_may_come_as_the_hosts_first_label(
    model_app: Flask, site_key: str, db_session: Session
) -> None:
    # akismet-api (npm, as Coral Talk uses it) sends the key only in the host name.
    with httpx.Client(
        transport=httpx.WSGITransport(app=model_app),
        base_url=f"https://{site_key}.rest.akismet.com",
    ) as http:
        check = http.post("/1.1/comment-check", data={"blog": BLOG, "user_ip": IP, **SPAM})
        assert check.text == "true"
        submitted = http.post("/1.1/submit-ham", data={"blog": BLOG, "user_ip": IP, **CIVIL})
        assert submitted.text == "Thanks for making the web a better place."
        assert count(db_session, FeedbackLabel) == 1
        unknown = httpx.Client(
            transport=httpx.WSGITransport(app=model_app),
            base_url="https://0123456789ab.rest.akismet.com",
        ).post("/1.1/comment-check", data={"blog": BLOG, "user_ip": IP, **CIVIL})
        assert unknown.text == "invalid"


def test_what_the_wordpress_plugin_asks_besides_checks(model_app: Flask, site_key: str) -> None:
    client = model_app.test_client()
    assert client.get("/1.1/test").get_data(as_text=True) == "connected"
    subscription = client.post("/1.1/get-subscription", data={"key": site_key, "blog": BLOG})
    account = json.loads(subscription.get_data(as_text=True))
    assert account["status"] == "active"
    assert account["api_key"] == site_key
    assert account["limit_reached"] is False
    wrong = client.post("/1.1/get-subscription", data={"key": "0123456789ab", "blog": BLOG})
    assert wrong.get_data(as_text=True) == "invalid"
    for interval in ("6-months", "all"):
        stats = client.post(
            "/1.1/get-stats", data={"key": site_key, "blog": BLOG, "from": interval}
        )
        figures = json.loads(stats.get_data(as_text=True))
        assert {"spam", "missed_spam", "false_positives", "accuracy", "time_saved"} <= set(figures)
    gone = client.post("/1.1/deactivate", data={"key": site_key, "blog": BLOG})
    assert gone.get_data(as_text=True) == "deactivated"


def test_the_plugins_own_honeypot_is_read(model_app: Flask, site_key: str) -> None:
    client = model_app.test_client()
    trapped = client.post(
        "/1.1/comment-check", data=form(site_key, **CIVIL, POST_ak_hp_textarea="I am a bot")
    )
    assert trapped.get_data(as_text=True) == "true"
    assert trapped.headers["X-akismet-pro-tip"] == "discard"
    empty = client.post("/1.1/comment-check", data=form(site_key, **CIVIL, POST_ak_hp_textarea=""))
    assert empty.get_data(as_text=True) == "false"


def test_successful_answers_carry_no_rate_limit_headers(
    make_app: Callable[..., Flask], site_key: str
) -> None:
    app = make_app(SCORER_BACKEND="sklearn", RATELIMIT_ENABLED=True, SITE_RATE_LIMIT="2/minute")
    client = app.test_client()
    answers = [client.post("/1.1/comment-check", data=form(site_key, **CIVIL)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    for answer in answers[:2]:
        assert not [h for h in answer.headers if h[0].lower().startswith(("x-ratelimit", "retry"))]
    assert int(answers[2].headers["Retry-After"]) > 0


def test_a_filled_honeypot_is_discarded(model_app: Flask, connect: Connect) -> None:
    filled = connect(model_app, extra_fields={"hp_fax": "555-0100"})
    assert (
        filled.comment_check(IP, **CIVIL, honeypot_field_name="hp_fax")
        == akismet.CheckResponse.DISCARD
    )
    empty = connect(model_app, extra_fields={"hp_fax": " "})
    assert (
        empty.comment_check(IP, **CIVIL, honeypot_field_name="hp_fax") == akismet.CheckResponse.HAM
    )
    # naming a real field as the honeypot is a client mistake, not a bot
    assert (
        connect(model_app).comment_check(IP, **CIVIL, honeypot_field_name="comment_content")
        == akismet.CheckResponse.HAM
    )


def test_block_lists_make_spam(make_app: Callable[..., Flask], connect: Connect) -> None:
    app = make_app(SCORER_BACKEND="sklearn", BLOCKED_IPS=[IP], BLOCKED_DOMAINS=["blocked.example"])
    client = connect(app)
    assert client.comment_check(IP, **CIVIL) == akismet.CheckResponse.SPAM
    assert (
        client.comment_check(
            "192.0.2.1", **{**CIVIL, "comment_author_url": "https://www.blocked.example/x"}
        )
        == akismet.CheckResponse.SPAM
    )
    assert client.comment_check("192.0.2.1", **CIVIL) == akismet.CheckResponse.HAM


def test_a_moderators_block_applies_to_akismet_checks_too(
    model_app: Flask, connect: Connect, db_session: Session
) -> None:
    # Intake and comment-check judge with one function: a rule made in /moderate holds for both.
    client = connect(model_app)
    assert client.comment_check(IP, **CIVIL) == akismet.CheckResponse.HAM
    moderator = make_moderator(db_session)
    set_rule(
        db_session,
        kind="email",
        value=CIVIL["comment_author_email"],
        action="block",
        moderator=moderator,
    )
    db_session.commit()
    assert client.comment_check(IP, **CIVIL) == akismet.CheckResponse.SPAM
    set_rule(db_session, kind="ip", value=IP, action="block", moderator=moderator)
    db_session.commit()
    other = {**CIVIL, "comment_author_email": "someone.else@example.org"}
    assert client.comment_check(IP, **other) == akismet.CheckResponse.SPAM
    assert client.comment_check("192.0.2.1", **other) == akismet.CheckResponse.HAM


def test_akismet_test_values(model_app: Flask, connect: Connect) -> None:
    client = connect(model_app)
    assert (
        client.comment_check(IP, **{**CIVIL, "comment_author": "akismet-guaranteed-spam"})
        == akismet.CheckResponse.SPAM
    )
    assert (
        client.comment_check(
            IP, **{**CIVIL, "comment_author_email": "akismet-guaranteed-spam@example.com"}
        )
        == akismet.CheckResponse.SPAM
    )
    assert (
        client.comment_check(IP, **SPAM, user_role="administrator", is_test=True)
        == akismet.CheckResponse.HAM
    )


def test_without_a_model_the_check_fails_instead_of_guessing(
    make_app: Callable[..., Flask], connect: Connect, site_key: str, tmp_path: Path
) -> None:
    app = make_app(SCORER_BACKEND="sklearn", MODELS_DIR=str(tmp_path), SHIPPED_MODELS_DIR="")
    with pytest.raises(akismet.RequestError):
        connect(app).comment_check(IP, **CIVIL)
    response = app.test_client().post("/1.1/comment-check", data=form(site_key, **CIVIL))
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert "not checked" in response.headers["X-akismet-debug-help"]
    assert "not checked" in response.text
    # the rules that need no model still answer
    trapped = connect(app, extra_fields={"hp": "x"})
    assert trapped.comment_check(IP, **CIVIL, honeypot_field_name="hp") == (
        akismet.CheckResponse.DISCARD
    )


def test_a_failing_model_fails_the_check(app: Flask, connect: Connect) -> None:
    class Broken:
        version = "broken"
        thresholds = app.extensions["moderation.scorer"].scorer.thresholds

        def score_many(self, comments: Any) -> Any:
            raise RuntimeError("boom")

    app.extensions["moderation.scorer"].scorer = Broken()  # the fixed scorer: no hot swap
    with pytest.raises(akismet.RequestError):
        connect(app).comment_check(IP, **CIVIL)


def test_missing_required_fields_are_reported_like_akismet(
    model_app: Flask, connect: Connect, site_key: str
) -> None:
    with pytest.raises(akismet.ProtocolError, match="user_ip"):
        connect(model_app).comment_check("", **CIVIL)
    http = model_app.test_client()
    for missing in ("user_ip", "blog"):
        data = {k: v for k, v in form(site_key, **CIVIL).items() if k != missing}
        response = http.post("/1.1/comment-check", data=data)
        assert response.status_code == 200
        assert response.text == f"Missing required field: {missing}."
        assert missing in response.headers["X-akismet-debug-help"]
        assert missing in response.headers["X-akismet-error"]


# --------------------------------------------------------------------------- submit


def test_submit_spam_and_ham_store_labels(
    model_app: Flask, connect: Connect, db_session: Session
) -> None:
    client = connect(model_app)
    assert client.submit_spam(IP, **SPAM) is True
    assert client.submit_ham(IP, **{**CIVIL, "comment_author_email": "Maria@Example.org"}) is True
    assert client.submit_spam(IP, **SPAM, is_test=True) is True  # a test call teaches nothing
    labels = db_session.scalars(select(FeedbackLabel).order_by(FeedbackLabel.id)).all()
    assert [(label.source, label.spam, label.abuse) for label in labels] == [
        ("akismet", 1, None),
        ("akismet", 0, None),
    ]
    spam, ham = labels
    assert spam.content == SPAM["comment_content"]
    assert (spam.author, spam.email, spam.url) == (
        SPAM["comment_author"],
        SPAM["comment_author_email"],
        SPAM["comment_author_url"],
    )
    assert ham.email == "maria@example.org"
    assert spam.site_key_id is not None
    assert spam.site_key_id == ham.site_key_id
    assert count(db_session, Comment) == 0


def test_submit_answers_exactly_as_akismet(model_app: Flask, site_key: str) -> None:
    response = model_app.test_client().post("/1.1/submit-ham", data=form(site_key, **CIVIL))
    assert response.status_code == 200
    assert response.text == "Thanks for making the web a better place."


def test_submit_decodes_the_blog_charset(
    model_app: Flask, site_key: str, db_session: Session
) -> None:
    body = urlencode(form(site_key, blog_charset="ISO-8859-1")) + "&comment_content=caf%E9"
    response = model_app.test_client().post("/1.1/submit-ham", data=body, content_type=FORM)
    assert response.text == "Thanks for making the web a better place."
    label = db_session.scalars(select(FeedbackLabel)).one()
    assert label.content == "café"


# --------------------------------------------------------------------------- usage-limit


def test_usage_limit(model_app: Flask, connect: Connect) -> None:
    assert connect(model_app).usage_limit() == {
        "limit": "none",
        "usage": 0,
        "percentage": "0.00",
        "throttled": False,
    }


# --------------------------------------------------------------------------- wrong keys


def test_a_wrong_key_raises_the_clients_key_error(
    model_app: Flask, connect: Connect, db_session: Session
) -> None:
    client = connect(model_app, key="mod_wrong")
    with pytest.raises(akismet.APIKeyError):
        client.comment_check(IP, **SPAM)
    with pytest.raises(akismet.APIKeyError):
        client.submit_spam(IP, **SPAM)
    with pytest.raises(akismet.APIKeyError):
        client.submit_ham(IP, **CIVIL)
    with pytest.raises(akismet.APIKeyError):
        client.usage_limit()
    with pytest.raises(akismet.APIKeyError):
        connect(model_app, url="not a url").comment_check(IP, **CIVIL)
    assert count(db_session, FeedbackLabel) == 0
    response = model_app.test_client().post("/1.1/comment-check", data=form("mod_wrong", **CIVIL))
    assert (response.status_code, response.text) == (200, "invalid")
    assert "key" in response.headers["X-akismet-debug-help"].lower()


# --------------------------------------------------------------------------- bad input


def _raw(site_key: str, **fields: str) -> bytes:
    return urlencode(form(site_key, **fields)).encode()


@pytest.mark.parametrize("endpoint", ["comment-check", "submit-spam", "submit-ham"])
@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("json", 415),
        ("multipart", 415),
        ("no_content_type", 415),
        ("bad_utf8", 400),
        ("bad_utf8_name", 400),
        ("bad_charset_bytes", 400),
        ("nul", 400),
        ("too_many_fields", 400),
        ("content_too_long", 413),
        ("body_too_large", 413),
    ],
)
def test_bad_input_gets_a_4xx_with_a_message(
    model_app: Flask, site_key: str, db_session: Session, endpoint: str, case: str, status: int
) -> None:
    base = _raw(site_key, comment_content="hello")
    cases: dict[str, tuple[bytes, str | None]] = {
        "json": (b'{"api_key": "x"}', "application/json"),
        "multipart": (b"--b\r\n\r\n--b--\r\n", "multipart/form-data; boundary=b"),
        "no_content_type": (base, None),
        "bad_utf8": (base + b"&comment_author=%ff%fe", FORM),
        "bad_utf8_name": (base + b"&%c3%28=1", FORM),
        "bad_charset_bytes": (_raw(site_key, blog_charset="utf-16") + b"&x=%00", FORM),
        "nul": (base.replace(b"hello", b"hel%00lo"), FORM),
        "too_many_fields": (base + b"&x=1" * 1000, FORM),
        "content_too_long": (_raw(site_key, comment_content="é" * 32763), FORM),
        "body_too_large": (base + b"&x=" + b"a" * (256 * 1024), FORM),
    }
    data, content_type = cases[case]
    headers = {"Content-Type": content_type} if content_type else {}
    response = model_app.test_client().post(f"/1.1/{endpoint}", data=data, headers=headers)
    assert response.status_code == status, response.text
    assert response.text.strip()
    if response.mimetype == "text/plain":
        assert response.headers["X-akismet-debug-help"].strip()
    assert count(db_session, FeedbackLabel) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"&&&===&",
        b"api_key=%zz&blog=%&user_ip",
        b"blog_charset=%00&api_key=x",
        b"blog_charset=raw-unicode-escape&api_key=%5Cud800",
        b"blog_charset=" + b"x" * 5000,
        b"api_key=" + b"k" * 10000,
    ],
)
@pytest.mark.parametrize(
    "endpoint", ["1.1/verify-key", "1.1/comment-check", "1.1/submit-spam", "1.2/usage-limit"]
)
def test_odd_forms_are_refused_cleanly(model_app: Flask, body: bytes, endpoint: str) -> None:
    response = model_app.test_client().post(f"/{endpoint}", data=body, content_type=FORM)
    assert response.status_code in (200, 400), response.text
    assert response.text == "invalid" or response.status_code == 400
    assert response.text.strip()
    assert response.headers["X-akismet-debug-help"].strip()


def test_the_wrong_method_is_405(model_app: Flask, site_key: str) -> None:
    http = model_app.test_client()
    response = http.get("/1.1/comment-check", query_string=form(site_key))
    assert response.status_code == 405
    usage = http.get("/1.2/usage-limit", query_string={"api_key": "nope"})
    assert (usage.status_code, usage.text) == (200, "invalid")
    ok = http.get("/1.2/usage-limit", query_string={"api_key": site_key})
    assert ok.json == {"limit": "none", "usage": 0, "percentage": "0.00", "throttled": False}


def test_it_works_behind_the_rate_limiter(
    make_app: Callable[..., Flask], connect: Connect, site_key: str, db_session: Session
) -> None:
    # The limiter reads the form to find the key; the body must still reach the views.
    app = make_app(SCORER_BACKEND="sklearn", RATELIMIT_ENABLED=True)
    client = connect(app)
    assert client.verify_key() is True
    assert client.comment_check(IP, **SPAM) == akismet.CheckResponse.DISCARD
    assert client.comment_check(IP, **CIVIL) == akismet.CheckResponse.HAM
    assert client.submit_ham(IP, **CIVIL) is True
    assert count(db_session, FeedbackLabel) == 1
    bad = app.test_client().post(
        "/1.1/comment-check", data=_raw(site_key) + b"&comment_content=%ff", content_type=FORM
    )
    assert bad.status_code == 400
