"""gunicorn settings for `make run` and production (values from the environment)."""

from __future__ import annotations

import gc
import os
import shutil
import tempfile

# Prometheus counters shared by all workers: one folder per server start (unless one is given),
# set before the app (and prometheus_client) is imported, and removed when the server stops.
_OWN_METRICS_DIR = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _OWN_METRICS_DIR = tempfile.mkdtemp(prefix="moderation-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _OWN_METRICS_DIR

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("MODERATION_WORKERS") or os.environ.get("WEB_CONCURRENCY") or 2)
threads = int(os.environ.get("MODERATION_THREADS", "1"))
# Load the app (and so the model, once) in the master; workers share its memory.
preload_app = True
accesslog = "-"
errorlog = "-"
# Control characters in a logged path or header are escaped: no forged log lines.
logger_class = "moderation.web.access_log.SafeLogger"
# The path without its query string: API keys travel there (Perspective's ?key=).
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
max_requests = int(os.environ.get("MODERATION_MAX_REQUESTS", "10000"))
max_requests_jitter = max_requests // 10
timeout = 30
graceful_timeout = 20


def pre_fork(server, worker):  # type: ignore[no-untyped-def]
    """Move everything the master loaded (the app, the model, the libraries) out of the
    garbage collector's reach before forking: a full collection would otherwise walk all of
    them now and then, stalling a request (benchmarks/bench_queue.py shows the stalls without
    it), and writing to their headers would unshare the memory."""
    gc.freeze()


def post_fork(server, worker):  # type: ignore[no-untyped-def]
    """Give each worker its own database connections (never share the master's)."""
    from moderation.web.database import get_engine

    get_engine(worker.app.wsgi()).dispose(close=False)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """Drop a dead worker's live gauges from the shared metrics."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # type: ignore[no-untyped-def]
    """Remove the metrics folder this server made for itself."""
    if _OWN_METRICS_DIR:
        shutil.rmtree(_OWN_METRICS_DIR, ignore_errors=True)
