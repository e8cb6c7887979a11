"""Errors to answers, in one place: JSON, or a small HTML page for a browser's form post.

The exception tree lives in :mod:`moderation.domain.errors`; HTTP errors, database outages and
a passed deadline are answered here too, and anything else is logged once and answered 500.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from werkzeug.exceptions import HTTPException

from moderation.domain.errors import (
    DeadlineExceededError,
    ModerationError,
    ServiceUnavailableError,
)
from moderation.web.commenter import safe_referrer

log = logging.getLogger(__name__)


def wants_html() -> bool:
    """True for a browser's form post (it gets a page, not JSON)."""
    if request.is_json:
        return False
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html" or (
        best is None
        and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")
    )


def _respond(error: ModerationError) -> Response:
    if wants_html() and request.method == "POST":
        response = Response(
            render_template("error.html", error=error, back=safe_referrer()),
            status=error.status_code,
            mimetype="text/html",
        )
    else:
        response = jsonify(error.body())
        response.status_code = error.status_code
    response.headers.update(error.headers())
    return response


def register_error_handlers(app: Flask) -> None:
    """Map the tree, HTTP errors and anything unexpected to clean answers."""

    @app.errorhandler(ModerationError)
    def _moderation_error(error: ModerationError) -> Response:
        return _respond(error)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        code = (error.name or "error").lower().replace(" ", "_")
        extra_headers: dict[str, str] = {}
        if error.code == 429:  # a rate limit: say when to come back
            from moderation.web.ratelimit import retry_after

            extra_headers["Retry-After"] = str(retry_after())
        if wants_html() and request.method == "POST":
            # A browser's form post (too large, too many): a page, with the limiter's headers.
            page = ModerationError(str(error.description))
            response = Response(
                render_template("error.html", error=page, back=safe_referrer()),
                status=error.code or 500,
                mimetype="text/html",
            )
            if error.response is not None:
                response.headers.update(
                    {k: v for k, v in error.response.headers.items() if k.lower() == "retry-after"}
                )
            response.headers.update(extra_headers)
            return response
        body: dict[str, Any] = {"error": code, "message": error.description}
        if "Retry-After" in extra_headers:
            body["retry_after"] = int(extra_headers["Retry-After"])
        response = jsonify(body)
        response.status_code = error.code or 500
        response.headers.update(extra_headers)
        if error.code == 405 and error.response is None:
            response.headers["Allow"] = ", ".join(getattr(error, "valid_methods", None) or [])
        return response

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(SQLAlchemyTimeoutError)
    def _database_error(error: Exception) -> Response:
        # Connection refused, timed out, read-only or full disk: 503 with Retry-After. The
        # pool is dropped so that the next request opens fresh connections (SQLite keeps a
        # connection read-only after its file was read-only, until it is reopened).
        _stop_deadline()
        orig = getattr(error, "orig", None)
        log.error(
            "database unavailable: %s%s",
            error.__class__.__name__,
            f" ({orig.__class__.__name__})" if orig is not None else "",
        )
        _drop_connections(app)
        return _respond(ServiceUnavailableError())

    @app.errorhandler(DeadlineExceededError)
    def _deadline(error: DeadlineExceededError) -> Response:
        _stop_deadline()
        log.error("request deadline exceeded (a dependency stalled)")
        _drop_connections(app)
        return _respond(error)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        from moderation.web import deadline

        if deadline.expired():  # an error raised while unwinding from the deadline
            return _deadline(DeadlineExceededError())
        # The traceback without the exception's message: messages can carry a comment's
        # email or text (a driver's "DETAIL: Key (email)=(...)"), which stay out of logs.
        stack = "".join(traceback.format_tb(error.__traceback__))
        log.error("unhandled error %s\n%s", error.__class__.__name__, stack)
        response = jsonify({"error": "internal_error", "message": "Something went wrong."})
        response.status_code = 500
        return response


def _stop_deadline() -> None:
    from moderation.web import deadline

    deadline.disarm()


def _drop_connections(app: Flask) -> None:
    from moderation.web import database as db

    try:
        db.get_engine(app).dispose()
    except Exception:  # disposing a broken pool must not turn a 503 into a 500
        log.warning("could not drop the database connections")
