"""Security headers on every answer, and which proxies' forwarded headers are believed.

Every response says ``nosniff``, may not be framed, and sends no full referrer; HTML pages get
a Content-Security-Policy that allows scripts only from this service's own files (no inline
script; the pages' inline styles are allowed). Behind ``PROXY_FIX_X_FOR`` proxies, the client's
address, scheme and host come from their ``X-Forwarded-*`` headers (the address is what the
flood rule, blocks and rate limits see); without it those headers are ignored. A body sent
without a length (chunked) is measured, so that ``MAX_CONTENT_LENGTH`` refuses it as any other.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


def bearer_token() -> str | None:
    """The token of the request's ``Authorization: Bearer <token>`` header (as werkzeug parses
    it), or ``None``: no such header, another scheme, or no token."""
    credentials = request.authorization
    if credentials is None or credentials.type != "bearer" or not credentials.token:
        return None
    return credentials.token


class MeasuredBody:
    """WSGI middleware: a body without a ``Content-Length`` (``Transfer-Encoding: chunked``) is
    read, up to one byte past ``limit``, and given the length read.

    Werkzeug caps such a stream at the limit by cutting it short, silently: an oversized form
    was stored with its tail dropped, and an oversized JSON body was called malformed. With a
    length, Flask's ``MAX_CONTENT_LENGTH`` check answers 413 for it, as for any other body.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH"):
            body = environ["wsgi.input"].read(self.limit + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            del environ["HTTP_TRANSFER_ENCODING"]  # de-chunked now, and of a known length
        result: Iterable[bytes] = self.app(environ, start_response)
        return result


def init_app(app: Flask) -> None:
    """Add the headers to every response; trust the configured number of proxies; measure
    chunked bodies."""
    limit = app.config.get("MAX_CONTENT_LENGTH")
    if limit:
        app.wsgi_app = MeasuredBody(app.wsgi_app, int(limit))  # type: ignore[method-assign]
    hops = int(app.config.get("PROXY_FIX_X_FOR") or 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
