"""The service's own retention purge: at most hourly per process, from a request.

``moderation purge`` from cron is the main way (:func:`moderation.services.privacy.purge`);
this hook erases old request metadata and delivered webhook events even where no cron job was
set up. ``MODERATION_RETENTION_DAYS`` of 0 or less turns it off.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, Response, request
from sqlalchemy.orm import Session

from moderation.domain.errors import DeadlineExceededError
from moderation.services import privacy
from moderation.storage.db import utcnow
from moderation.web import deadline
from moderation.web.database import get_sessionmaker

EXTENSION = "moderation.retention"
INTERVAL_SECONDS = 3600.0
MAX_ROWS = 20_000  # per table and run
BATCH_SIZE = 2000
_SKIPPED_BLUEPRINTS = frozenset({"health"})

log = logging.getLogger("moderation.retention")


@dataclass
class RetentionState:
    """When this process last ran the purge (per app)."""

    clock: Callable[[], float] | None = None  # None: time.monotonic, looked up at each call
    next_run: float | None = None  # on the clock; None: at the next request
    runs: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        """The clock's current reading."""
        return (self.clock or time.monotonic)()


def init_app(app: Flask, *, clock: Callable[[], float] | None = None) -> None:
    """Register the hourly purge on ``app``'s requests (after ``db.init_app``).

    A process's first request runs it, then a request at most once an hour (on
    :func:`time.monotonic`), after its answer is sent (when the server closes the response);
    health probes and static files never do.

    Calling it again does not add a second hook: it replaces the clock and makes the purge
    due at the next request (for tests).

    :param clock: seconds on a monotonic clock (default: :func:`time.monotonic`).
    """
    state = app.extensions.get(EXTENSION)
    if isinstance(state, RetentionState):
        state.clock = clock
        state.next_run = None
        return
    state = RetentionState(clock=clock)
    app.extensions[EXTENSION] = state

    def purge_when_due() -> None:
        if state.next_run is not None and state.now() < state.next_run:
            return
        if not state.lock.acquire(blocking=False):
            return  # another thread of this process is purging
        try:
            if state.next_run is not None and state.now() < state.next_run:
                return
            # Due again in an hour whatever happens: a failing purge is not retried on
            # every request.
            state.next_run = state.now() + INTERVAL_SECONDS
            state.runs += 1
            # The request's deadline is disarmed by now: the purge gets one of its own, so a
            # stalled database cannot hold the worker until gunicorn kills it.
            with deadline.limit(float(app.config["REQUEST_DEADLINE_SECONDS"])):
                run(app)
        except DeadlineExceededError:
            log.error("retention purge failed: DeadlineExceededError")
        finally:
            state.lock.release()

    @app.after_request
    def _purge_after_the_answer(response: Response) -> Response:
        # Run when the server closes the response, once the answer is sent: the request's
        # client never waits for the purge (on SQLite it may wait for the write lock).
        if int(app.config.get("RETENTION_DAYS") or 0) <= 0:
            return response
        if request.blueprint in _SKIPPED_BLUEPRINTS or request.endpoint in (None, "static"):
            return response
        if state.next_run is None or state.now() >= state.next_run:
            response.call_on_close(purge_when_due)
        return response


def run(app: Flask) -> privacy.PurgeReport | None:
    """One purge in a session of its own, committed; ``None`` when it failed (the failure is
    logged without personal data, never raised: a purge never fails a request).

    Bounded (:data:`MAX_ROWS` per table, in batches) so that one run never holds a worker long;
    a bigger backlog is finished by the next runs or by ``moderation purge``.
    """
    session: Session | None = None
    try:
        session = get_sessionmaker(app)()
        report = privacy.purge(
            session,
            now=utcnow(),
            retention_days=int(app.config["RETENTION_DAYS"]),
            webhook_retention_days=int(app.config.get("WEBHOOK_RETENTION_DAYS") or 0),
            batch_size=BATCH_SIZE,
            max_rows=MAX_ROWS,
        )
        session.commit()
    except Exception as exc:
        # The class only: a driver's message can quote the values of a row.
        orig = getattr(exc, "orig", None)
        log.error(
            "retention purge failed: %s%s",
            exc.__class__.__name__,
            f" ({orig.__class__.__name__})" if orig is not None else "",
        )
        if session is not None:
            try:
                session.rollback()
            except Exception:
                log.warning("retention purge: the rollback failed too")
        return None
    finally:
        if session is not None:
            try:
                session.close()
            except Exception:
                log.warning("retention purge: could not close its session")
    if report.comments or report.webhook_events:
        log.info(
            "retention purge: request metadata erased from %d comment(s), "
            "%d delivered webhook event(s) deleted",
            report.comments,
            report.webhook_events,
        )
    if not report.complete:
        log.warning(
            "retention purge stopped after %d rows per table; more are due "
            "(run `moderation purge` from cron to finish)",
            MAX_ROWS,
        )
    return report
