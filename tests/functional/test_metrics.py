"""Prometheus /metrics: requests, latency, decisions, queue and model."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.factories import make_pending

pytestmark = pytest.mark.functional


def value(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not in metrics")


def test_metrics_report_traffic_decisions_queue_and_model(
    client: FlaskClient, db_session: Session
) -> None:
    before = client.get("/metrics").get_data(as_text=True)
    base = {
        "requests": value(
            before, "moderation_http_requests_total", endpoint="comments.post_comment", status="201"
        )
        if "comments.post_comment" in before
        else 0.0,
        "decided": value(
            before, "moderation_decisions_total", status="approved", reason="model_clear"
        )
        if 'reason="model_clear"' in before
        else 0.0,
    }
    make_pending(db_session)
    db_session.commit()
    response = client.post(
        "/comments",
        json={"comment": "Nice", "author": "A", "email": "a@example.org", "comment_post_ID": "1"},
    )
    assert response.status_code == 201
    text = client.get("/metrics").get_data(as_text=True)
    assert (
        value(
            text,
            "moderation_http_requests_total",
            endpoint="comments.post_comment",
            method="POST",
            status="201",
        )
        == base["requests"] + 1
    )
    assert (
        value(
            text,
            "moderation_decisions_total",
            status="approved",
            reason="model_clear",
            actor="system",
        )
        == base["decided"] + 1
    )
    assert re.search(
        r'moderation_http_request_duration_seconds_bucket\{endpoint="comments.post_comment"', text
    )
    assert value(text, "moderation_queue_depth") == 1
    assert 0 <= value(text, "moderation_queue_oldest_age_seconds") < 60  # held just now
    assert value(text, "moderation_model_info", version="fixed") == 1
