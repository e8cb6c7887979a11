"""gunicorn settings for `make run` and production (values from the environment)."""

from __future__ import annotations

import os
import tempfile

# Prometheus counters shared by all workers: one folder per server start, set before the app
# (and prometheus_client) is imported.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="moderation-metrics-"))

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("MODERATION_WORKERS") or os.environ.get("WEB_CONCURRENCY") or 2)
threads = int(os.environ.get("MODERATION_THREADS", "1"))
# Load the app (and so the model, once) in the master; workers share its memory.
preload_app = True
accesslog = "-"
errorlog = "-"
# The path without its query string: API keys travel there (Perspective's ?key=).
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
max_requests = int(os.environ.get("MODERATION_MAX_REQUESTS", "10000"))
max_requests_jitter = max_requests // 10
timeout = 30
graceful_timeout = 20


def post_fork(server, worker):  # type: ignore[no-untyped-def]
    """Give each worker its own database connections (never share the master's)."""
    from moderation.db import get_engine

    get_engine(worker.app.wsgi()).dispose(close=False)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """Drop a dead worker's live gauges from the shared metrics."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
