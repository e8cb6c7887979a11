"""Doors: throttled sign-in, production cookies, security headers, closed metrics and demo."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from moderation.storage.tables import Comment
from moderation.web.security import CONTENT_SECURITY_POLICY
from tests.factories import make_moderator

pytestmark = pytest.mark.functional


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def test_html_pages_carry_a_csp_without_inline_script_and_no_framing(
    client: object,
) -> None:
    page = client.get("/moderate/login")  # type: ignore[attr-defined]
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY.split("script-src", 1)[1].split(";")[0]
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in page.get_data(as_text=True)  # scripts only from files
    api = client.get("/healthz")  # type: ignore[attr-defined]
    assert api.headers["X-Frame-Options"] == "DENY"


def test_sign_in_is_throttled_per_account_and_failures_are_logged(
    make_app: Callable[..., Flask], db_session: Session, app_logs: pytest.LogCaptureFixture
) -> None:
    make_moderator(db_session, name="target")
    db_session.commit()
    app = make_app(
        RATELIMIT_ENABLED=True,
        LOGIN_RATE_LIMIT_ACCOUNT="3/minute",
        LOGIN_RATE_LIMIT_ADDRESS="100/minute",
    )
    client = app.test_client()
    token = _csrf(client.get("/moderate/login").get_data(as_text=True))
    statuses = []
    with app_logs.at_level(logging.WARNING):
        for number in range(5):
            response = client.post(
                "/moderate/login",
                data={"name": "target", "password": f"guess {number}", "csrf_token": token},
                environ_base={"REMOTE_ADDR": f"198.51.100.{number}"},  # a botnet: new address
            )
            statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 429, 429]
    failures = [
        r for r in app_logs.records if "failed sign-in for account 'target'" in r.msg % r.args
    ]
    assert len(failures) == 3
    # Even the right password waits out the pause.
    right = client.post(
        "/moderate/login",
        data={"name": "target", "password": "correct horse", "csrf_token": token},
    )
    assert right.status_code == 429
    assert int(right.headers["Retry-After"]) > 0


def test_sign_in_is_throttled_per_address(
    make_app: Callable[..., Flask], db_session: Session
) -> None:
    app = make_app(
        RATELIMIT_ENABLED=True,
        LOGIN_RATE_LIMIT_ACCOUNT="100/minute",
        LOGIN_RATE_LIMIT_ADDRESS="2/minute",
    )
    client = app.test_client()
    token = _csrf(client.get("/moderate/login").get_data(as_text=True))
    statuses = [
        client.post(
            "/moderate/login",
            data={"name": f"user{number}", "password": "x", "csrf_token": token},
        ).status_code
        for number in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_production_cookies_are_secure_httponly_and_samesite(
    make_app: Callable[..., Flask], db_session: Session
) -> None:
    make_moderator(db_session)
    db_session.commit()
    app = make_app(ENV="production")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    client = app.test_client()
    token = _csrf(client.get("/moderate/login", base_url="https://localhost").get_data(True))
    response = client.post(
        "/moderate/login",
        data={"name": "mod", "password": "correct horse", "csrf_token": token},
        base_url="https://localhost",
        headers={"Referer": "https://localhost/moderate/login"},  # CSRF over HTTPS checks it
    )
    assert response.status_code == 303
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert make_app().config["SESSION_COOKIE_SECURE"] is False  # tests run as ENV=testing


def test_metrics_need_the_token_and_are_closed_in_production_without_one(
    make_app: Callable[..., Flask],
) -> None:
    closed = make_app(ENV="production").test_client()
    assert closed.get("/metrics").status_code == 403
    guarded = make_app(METRICS_TOKEN="scrape-me").test_client()
    assert guarded.get("/metrics").status_code == 401
    assert guarded.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = guarded.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert ok.status_code == 200
    assert b"moderation_" in ok.data


def test_the_demo_page_is_off_unless_enabled(make_app: Callable[..., Flask]) -> None:
    assert make_app(DEMO_PAGE=False).test_client().get("/demo/article").status_code == 404
    assert make_app(DEMO_PAGE=True).test_client().get("/demo/article").status_code == 200


@pytest.mark.parametrize(("hops", "stored"), [(0, "192.0.2.1"), (1, "203.0.113.50")])
def test_forwarded_addresses_are_believed_only_behind_the_configured_proxies(
    make_app: Callable[..., Flask], db_session: Session, hops: int, stored: str
) -> None:
    client = make_app(PROXY_FIX_X_FOR=hops).test_client()
    response = client.post(
        "/comments",
        json={
            "comment": "Behind the proxy.",
            "author": "Ann",
            "email": "ann@example.org",
            "comment_post_ID": "42",
        },
        headers={"X-Forwarded-For": "203.0.113.50"},
        environ_base={"REMOTE_ADDR": "192.0.2.1"},
    )
    assert response.status_code == 201
    comment = db_session.get(Comment, response.json["id"])
    assert comment is not None
    assert comment.ip == stored
