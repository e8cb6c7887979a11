"""``GET /metrics``: the Prometheus text, behind the metrics token.

Under gunicorn the counters of all workers are read from ``PROMETHEUS_MULTIPROC_DIR``; the live
gauges are appended at each scrape. The route is the app's own, not a blueprint's: its requests
keep the label ``metrics`` and run every request hook like any page.
"""

from __future__ import annotations

import hmac
import os
from typing import Any

from flask import Flask, Response, current_app
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from moderation.domain.errors import ForbiddenError, UnauthorizedError
from moderation.web.metrics_collector import LiveCollector
from moderation.web.security import bearer_token


def check_token(config: Any) -> None:
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


def metrics() -> Response:
    """The counters and histograms (of all workers under gunicorn), then the live gauges."""
    check_token(current_app.config)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shared = CollectorRegistry()
        multiprocess.MultiProcessCollector(shared)  # type: ignore[no-untyped-call]
        text = generate_latest(shared)
    else:
        text = generate_latest(REGISTRY)
    live = CollectorRegistry()
    live.register(LiveCollector())
    return Response(text + generate_latest(live), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Serve /metrics."""
    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
