"""A deadline per request, so that a stalled dependency gives a 503, not a killed worker.

A connection that stalls mid-query (a partition behind a proxy that keeps the socket open)
would wait until gunicorn kills the worker. In a sync worker a ``SIGALRM`` timer raises
:class:`DeadlineExceededError` inside the wait instead; the error handler answers 503.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from flask import Flask, current_app, g, has_request_context

from moderation.domain.errors import DeadlineExceededError


def _expired(_signum: int, _frame: FrameType | None) -> None:
    if has_request_context():
        # Cleanup code may replace this error with its own (a driver refusing to reset a
        # connection that is mid-query); the error handlers still know the deadline passed.
        g.deadline_expired = True
    raise DeadlineExceededError()


def expired() -> bool:
    """True once the current request's deadline has passed."""
    return bool(has_request_context() and g.get("deadline_expired"))


def _applies() -> bool:
    """In the main thread only (a sync worker's one request at a time): requests handled in
    other threads (a threaded development server, tests) run without a deadline."""
    return (
        threading.current_thread() is threading.main_thread()
        and float(current_app.config["REQUEST_DEADLINE_SECONDS"]) > 0
        and hasattr(signal, "setitimer")
    )


def init_app(app: Flask) -> None:
    """Arm a timer when a request starts; disarm it when the request ends."""

    @app.before_request
    def _arm() -> None:
        if _applies():
            signal.signal(signal.SIGALRM, _expired)
            # Then again every second: code that catches every error (scoring does, to keep
            # a comment when the model fails) may swallow the first one.
            seconds = float(app.config["REQUEST_DEADLINE_SECONDS"])
            signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)

    @app.teardown_request
    def _disarm(_exc: BaseException | None) -> None:
        disarm()


def disarm() -> None:
    """Stop the current request's timer (the error handlers call it first)."""
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        signal.setitimer(signal.ITIMER_REAL, 0)


@contextlib.contextmanager
def limit(seconds: float) -> Iterator[None]:
    """Raise :class:`DeadlineExceededError` in the block after ``seconds``, for work a request
    leaves behind (the purge after an answer is sent); main thread only, as for requests."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    if not hasattr(signal, "setitimer"):
        yield
        return
    signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
