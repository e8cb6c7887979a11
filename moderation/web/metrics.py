"""Prometheus metrics: requests and latency by endpoint, decisions, queue, active model.

Under gunicorn the counters live in ``PROMETHEUS_MULTIPROC_DIR`` (set by gunicorn.conf.py),
so a scrape of any worker sees all workers. Queue depth, the oldest item's age and the model
version are read at scrape time.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any

from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from moderation.domain.errors import ForbiddenError, UnauthorizedError
from moderation.security import bearer_token

EXTENSION = "moderation.metrics"

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


class Metrics:
    """What the app records."""

    def decided(self, decision: Any) -> None:
        """Count a decision (a ``decisions`` row) under each of its reason codes."""
        self.count(
            decision.status,
            [r["code"] for r in decision.reasons],
            actor="system" if decision.moderator_id is None else "moderator",
        )

    def count(self, status: Any, codes: Sequence[str], *, actor: str) -> None:
        """Count a decision with ``status`` under each reason code."""
        for code in codes or ["none"]:
            DECISIONS.labels(status.value, code, actor).inc()


class _LiveCollector(Collector):
    """Values read at scrape time from the database and the scorer."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from moderation.services.review_queue import queue_stats
        from moderation.web.database import get_session
        from moderation.web.extensions import get_scorer

        depth, age = queue_stats(get_session())
        yield GaugeMetricFamily(
            "moderation_queue_depth", "Comments waiting for a moderator.", value=depth
        )
        yield GaugeMetricFamily(
            "moderation_queue_oldest_age_seconds",
            "Age of the oldest comment waiting for a moderator.",
            value=age,
        )
        scorer = get_scorer()
        model = GaugeMetricFamily(
            "moderation_model_info",
            "The model version this process scores with.",
            labels=["version"],
        )
        model.add_metric([scorer.version if scorer is not None else "none"], 1.0)
        yield model


def _endpoint() -> str:
    return request.url_rule.endpoint if request.url_rule is not None else "unmatched"


def _check_token(config: Any) -> None:
    """``/metrics`` reveals traffic and queue sizes: it needs the metrics token when one is set,
    and, in production, is closed until one is."""
    token = config.get("METRICS_TOKEN")
    if token is None:
        if config["ENV"] == "production":
            raise ForbiddenError("Set MODERATION_METRICS_TOKEN to read the metrics.")
        return
    sent = bearer_token()
    if not sent or not hmac.compare_digest(sent.encode(), str(token).encode()):
        raise UnauthorizedError("Send 'Authorization: Bearer <metrics token>'.")


def init_app(app: Flask) -> None:
    """Time every request and serve /metrics."""
    app.extensions[EXTENSION] = Metrics()

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

    @app.get("/metrics")
    def metrics() -> Response:
        _check_token(current_app.config)
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            shared = CollectorRegistry()
            multiprocess.MultiProcessCollector(shared)  # type: ignore[no-untyped-call]
            text = generate_latest(shared)
        else:
            text = generate_latest(REGISTRY)
        live = CollectorRegistry()
        live.register(_LiveCollector(current_app._get_current_object()))  # type: ignore[attr-defined]
        return Response(text + generate_latest(live), mimetype=CONTENT_TYPE_LATEST)
