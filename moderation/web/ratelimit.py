"""Rate limits (Flask-Limiter) on the public intake and the compatibility APIs.

Counters live in memory by default (per worker process); with
``MODERATION_RATELIMIT_STORAGE_URI=redis://host:6379/0`` they live in Redis and every gunicorn
worker (and host) shares them. The intake is limited per client address; site backends that
authenticate with a key are limited per key instead, since they forward many readers from one
address.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable

from flask import Blueprint, Flask, Response, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from moderation.web.security import bearer_token

# Flask-Limiter's own headers stay off: it would merge its window into the flood rule's
# Retry-After (the flood answer said 60 in the header and 15 in the body). A 429 from a limit
# gets its Retry-After (errors.py); X-RateLimit-* headers only where MODERATION_RATELIMIT_
# HEADERS_ENABLED asks for them (_limit_headers), never touching Retry-After.
limiter = Limiter(key_func=get_remote_address, headers_enabled=False)


def retry_after() -> int:
    """Seconds until the limit that refused this request lets it through again."""
    current = limiter.current_limit
    if current is None:
        return 60
    return max(1, math.ceil(current.reset_at - time.time()))


def _hashed(key: str) -> str:
    return "key:" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:32]


def site_or_address() -> str:
    """The intake's site backends: the Bearer key (hashed), else the address."""
    key = bearer_token()
    return _hashed(key) if key else "ip:" + (get_remote_address() or "")


def akismet_key() -> str:
    """The key exactly as the Akismet views read it: form ``key``, else ``api_key``."""
    if request.method == "GET":
        fields = request.args
    else:
        # Keep the raw body: the views decode it themselves after the limiter has looked.
        request.get_data(cache=True)  # form parsing then reads the cached copy
        fields = request.form
    key = (fields.get("key") or fields.get("api_key") or "").strip()
    return _hashed(key) if key else "ip:" + (get_remote_address() or "")


def perspective_key() -> str:
    """The key exactly as the Perspective views read it: ``?key=``, else ``X-Goog-Api-Key``."""
    key = (request.args.get("key") or request.headers.get("X-Goog-Api-Key", "")).strip()
    return _hashed(key) if key else "ip:" + (get_remote_address() or "")


def _intake_limit() -> str:
    return str(current_app.config["INTAKE_RATE_LIMIT"])


def _site_limit() -> str:
    return str(current_app.config["SITE_RATE_LIMIT"])


# The intake: per address for browsers; per key for authenticated site backends.
limit_intake_by_address = limiter.limit(_intake_limit, exempt_when=lambda: bool(bearer_token()))
limit_intake_by_site = limiter.limit(
    _site_limit, key_func=site_or_address, exempt_when=lambda: not bearer_token()
)


_limited_blueprints: set[str] = set()


# Redis must answer quickly or not at all: a request never waits on a stalled limit store.
REDIS_TIMEOUT_SECONDS = 0.5


def _shared_storage(uri: str) -> bool:
    return uri.split(":", 1)[0].lower().startswith(("redis", "rediss"))


def init_app(app: Flask, *, compat: dict[Blueprint, Callable[[], str]]) -> None:
    """Attach the limiter. Each compatibility API is limited per key, read the way its views
    read it, and per address too, so inventing keys buys no extra attempts.

    When the shared store (Redis) fails or stalls, limits fall back to each process's memory
    until it is back, and no request fails because of it.
    """
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    if _shared_storage(str(app.config.get("RATELIMIT_STORAGE_URI", ""))):
        app.config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS",
            {
                "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
                "socket_timeout": REDIS_TIMEOUT_SECONDS,
            },
        )
    limiter.init_app(app)
    if app.config.get("RATELIMIT_HEADERS_ENABLED"):
        app.after_request(_limit_headers)  # registered only when asked: no cost otherwise
    for blueprint, key_func in compat.items():
        # Blueprints are module-level: put the limits on them once, whatever the app count.
        if blueprint.name not in _limited_blueprints:
            limiter.limit(_site_limit, key_func=key_func)(blueprint)
            limiter.limit(_site_limit, key_func=get_remote_address)(blueprint)
            _limited_blueprints.add(blueprint.name)


def _limit_headers(response: Response) -> Response:
    """X-RateLimit-Limit, -Remaining and -Reset of the limit nearest to refusing this client."""
    try:
        current = limiter.current_limit
    except Exception:  # the limit store failed: the answer goes out without the headers
        return response
    if current is not None:
        response.headers["X-RateLimit-Limit"] = str(current.limit.amount)
        response.headers["X-RateLimit-Remaining"] = str(current.remaining)
        response.headers["X-RateLimit-Reset"] = str(math.ceil(current.reset_at))
    return response


def storage_problem(app: Flask) -> str | None:
    """Why the shared limit store does not answer (``None``: it does, or none is set)."""
    if not _shared_storage(str(app.config.get("RATELIMIT_STORAGE_URI", ""))):
        return None
    try:
        healthy = bool(limiter.storage.check())
    except Exception as exc:  # a storage that cannot even be asked is down
        return f"unreachable ({exc.__class__.__name__})"
    return None if healthy else "unreachable (limits fall back to each process's memory)"
