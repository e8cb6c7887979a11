"""Structured logs with a request id, and proxy handling."""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid

from flask import Flask, Response, g, has_request_context, request
from werkzeug.middleware.proxy_fix import ProxyFix

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            entry["request_id"] = g.get("request_id")
            entry["path"] = request.path
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _flask_default(handler: logging.Handler) -> bool:
    from flask.logging import default_handler

    return handler is default_handler


def init_app(app: Flask) -> None:
    """JSON logs on stderr, a request id per request, and ProxyFix where configured."""
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
    hops = int(app.config.get("PROXY_FIX_X_FOR") or 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    @app.before_request
    def _request_id() -> None:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID_RE.match(given) else uuid.uuid4().hex

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response
