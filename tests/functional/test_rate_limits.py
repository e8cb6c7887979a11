"""Flask-Limiter on the public intake: per address, per site key, shared through Redis."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from moderation.services.sitekeys import create_site_key
from tests.conftest import IN_CI

pytestmark = pytest.mark.functional

REDIS_URL = "redis://127.0.0.1:6379/15"


def comment(n: int) -> dict[str, Any]:
    return {
        "comment": f"Remark number {n} on the story.",
        "author": "Reader",
        "email": f"reader{n}@example.org",
        "comment_post_ID": "rl",
    }


def limited_app(make_app: Callable[..., Flask], **config: Any) -> Flask:
    return make_app(
        RATELIMIT_ENABLED=True,
        FLOOD_SECONDS=0,
        INTAKE_RATE_LIMIT="2/minute",
        SITE_RATE_LIMIT="3/minute",
        **config,
    )


def test_intake_is_limited_per_address(make_app: Callable[..., Flask]) -> None:
    client = limited_app(make_app, RATELIMIT_STORAGE_URI="memory://").test_client()
    here = {"REMOTE_ADDR": f"198.51.100.{uuid.uuid4().int % 200 + 1}"}
    assert client.post("/comments", json=comment(1), environ_base=here).status_code == 201
    assert client.post("/comments", json=comment(2), environ_base=here).status_code == 201
    refused = client.post("/comments", json=comment(3), environ_base=here)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.json["error"] == "too_many_requests"
    elsewhere = {"REMOTE_ADDR": "203.0.113.250"}
    assert client.post("/comments", json=comment(4), environ_base=elsewhere).status_code == 201


def test_site_backends_are_limited_per_key_not_per_address(
    make_app: Callable[..., Flask], db_session: Session
) -> None:
    _, key = create_site_key(db_session, name=f"site-{uuid.uuid4().hex[:8]}")
    db_session.commit()
    client = limited_app(make_app, RATELIMIT_STORAGE_URI="memory://").test_client()
    auth = {"Authorization": f"Bearer {key}"}
    statuses = [
        client.post(
            "/comments",
            json={**comment(10 + n), "user_ip": f"192.0.2.{n + 1}"},
            headers=auth,
            environ_base={"REMOTE_ADDR": "10.9.9.9"},
        ).status_code
        for n in range(4)
    ]
    assert statuses == [201, 201, 201, 429]


def test_redis_shares_the_limits_between_workers(make_app: Callable[..., Flask]) -> None:
    redis = pytest.importorskip("redis")
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError as exc:
        if IN_CI:
            pytest.fail(f"Redis is required in CI: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    connection.flushdb()
    # Two apps stand for two gunicorn workers: their own memory, one Redis.
    first = limited_app(make_app, RATELIMIT_STORAGE_URI=REDIS_URL).test_client()
    second = limited_app(make_app, RATELIMIT_STORAGE_URI=REDIS_URL).test_client()
    here = {"REMOTE_ADDR": "198.51.100.77"}
    assert first.post("/comments", json=comment(21), environ_base=here).status_code == 201
    assert second.post("/comments", json=comment(22), environ_base=here).status_code == 201
    assert first.post("/comments", json=comment(23), environ_base=here).status_code == 429
    assert second.post("/comments", json=comment(24), environ_base=here).status_code == 429
    assert any(k.startswith(b"LIMITS") for k in connection.keys("*"))
    connection.flushdb()
    connection.close()


def test_compat_limits_cannot_be_dodged_with_invented_keys(
    make_app: Callable[..., Flask], db_session: Session
) -> None:
    _, key = create_site_key(db_session, name=f"coral-{uuid.uuid4().hex[:8]}")
    db_session.commit()
    client = limited_app(make_app, RATELIMIT_STORAGE_URI="memory://").test_client()
    body = {"comment": {"text": "hello"}, "requestedAttributes": {"TOXICITY": {}}}
    here = {"REMOTE_ADDR": "198.51.100.201"}
    statuses = [
        client.post(
            f"/v1alpha1/comments:analyze?key={key}",
            json=body,
            headers={"Authorization": f"Bearer {uuid.uuid4().hex}"},  # ignored by Perspective
            environ_base=here,
        ).status_code
        for _ in range(4)
    ]
    assert statuses[3] == 429
    invented = [
        client.post(
            f"/v1alpha1/comments:analyze?key={uuid.uuid4().hex}", json=body, environ_base=here
        ).status_code
        for _ in range(2)
    ]
    assert invented[-1] == 429  # the per-address limit holds whatever the key


def test_a_rate_limited_form_post_gets_a_page(make_app: Callable[..., Flask]) -> None:
    client = limited_app(make_app, RATELIMIT_STORAGE_URI="memory://").test_client()
    here = {"REMOTE_ADDR": "198.51.100.202"}
    answers = [
        client.post(
            "/comments", data=comment(40 + n), headers={"Accept": "text/html"}, environ_base=here
        )
        for n in range(3)
    ]
    refused = answers[-1]
    assert refused.status_code == 429
    assert refused.mimetype == "text/html"
    assert "Retry-After" in refused.headers
    assert "per 1 minute" in refused.get_data(as_text=True)


RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@pytest.mark.parametrize("headers", [False, True])
def test_the_flood_rule_and_the_limiter_give_one_retry_after(
    make_app: Callable[..., Flask], headers: bool
) -> None:
    client = make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
        RATELIMIT_HEADERS_ENABLED=headers,
        FLOOD_SECONDS=15,
        INTAKE_RATE_LIMIT="2/minute",
    ).test_client()
    here = {"REMOTE_ADDR": f"198.51.100.{uuid.uuid4().int % 50 + 100}"}
    accepted = client.post("/comments", json=comment(60), environ_base=here)
    assert accepted.status_code == 201
    assert "Retry-After" not in accepted.headers
    # no rate-limit headers on a successful answer unless they are configured
    assert all((name in accepted.headers) is headers for name in RATE_HEADERS)

    # the flood rule (15 s) refuses under a limit whose window is a minute: one answer
    flood = client.post("/comments", json=comment(61), environ_base=here)
    assert flood.status_code == 429
    assert flood.json["error"] == "comment_flood"
    assert flood.headers["Retry-After"] == str(flood.json["retry_after"])
    assert 1 <= flood.json["retry_after"] <= 15

    # the limiter's own refusal: its header and its body agree too
    limited = client.post("/comments", json=comment(62), environ_base=here)
    assert limited.status_code == 429
    assert limited.json["error"] == "too_many_requests"
    assert limited.headers["Retry-After"] == str(limited.json["retry_after"])
    assert 1 <= limited.json["retry_after"] <= 61  # the window, rounded up to a second
