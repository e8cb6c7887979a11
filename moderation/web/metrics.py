"""The Prometheus counters and histograms, and what records them: every request's endpoint,
status and latency, and every decision (:func:`decided`, :func:`count`).

``/metrics`` itself is served by :mod:`moderation.web.metrics_endpoint`; the gauges read at
scrape time are in :mod:`moderation.web.metrics_collector`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "moderation_http_requests_total",
    "HTTP requests by endpoint, method and status.",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "moderation_http_request_duration_seconds",
    "HTTP request latency by endpoint.",
    ["endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
DECISIONS = Counter(
    "moderation_decisions_total",
    "Decisions by outcome, reason code and who made them (system or moderator).",
    ["status", "reason", "actor"],
)


def decided(decision: Any) -> None:
    """Count a decision (a ``decisions`` row) under each of its reason codes."""
    count(
        decision.status,
        [r["code"] for r in decision.reasons],
        actor="system" if decision.moderator_id is None else "moderator",
    )


def count(status: Any, codes: Sequence[str], *, actor: str) -> None:
    """Count a decision with ``status`` under each reason code."""
    for code in codes or ["none"]:
        DECISIONS.labels(status.value, code, actor).inc()


def _endpoint() -> str:
    return request.url_rule.endpoint if request.url_rule is not None else "unmatched"


def init_app(app: Flask) -> None:
    """Time every request."""

    @app.before_request
    def _start() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _record(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        if started is not None:
            endpoint = _endpoint()
            LATENCY.labels(endpoint).observe(time.perf_counter() - started)
            REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
        return response
