"""Structured logs: one JSON object per line on stderr, with the request's id and path."""

from __future__ import annotations

import logging
import re
import sys
import uuid
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class JsonFormatter(_JsonFormatter):
    """python-json-logger's formatter with this service's fields: time, level (lower case),
    logger, message, and within a request its ``request_id`` and ``path``; ``exception`` with
    a traceback."""

    def __init__(self) -> None:
        super().__init__(
            "{asctime}{levelname}{name}{message}",
            style="{",
            datefmt="%Y-%m-%dT%H:%M:%S%z",
            rename_fields={
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
                "exc_info": "exception",
            },
            json_ensure_ascii=False,
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        """The library's fields, the level in lower case, and the request's id and path."""
        super().add_fields(log_data, record, message_dict)
        log_data["level"] = record.levelname.lower()
        if has_request_context():
            log_data["request_id"] = g.get("request_id")
            log_data["path"] = request.path


def _flask_default(handler: logging.Handler) -> bool:
    from flask.logging import default_handler

    return handler is default_handler


def init_app(app: Flask) -> None:
    """JSON logs on stderr and a request id per request (``X-Request-ID``, echoed)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for logger in (app.logger, logging.getLogger("moderation")):
        # Replace the JSON handler an earlier app put there; keep anyone else's (a test's).
        logger.handlers[:] = [
            h
            for h in logger.handlers
            if not isinstance(h.formatter, JsonFormatter) and not _flask_default(h)
        ] + [handler]
        logger.setLevel(logging.INFO)
    logging.getLogger("moderation").propagate = False

    @app.before_request
    def _request_id() -> None:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID_RE.match(given) else uuid.uuid4().hex

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response
