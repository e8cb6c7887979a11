"""Configuration: in-code defaults, then ``MODERATION_*`` environment variables, then overrides.

Lists (blocked IPs, words, site origins) come from the environment as JSON arrays or
comma-separated strings. In production mode (the default) a missing ``SECRET_KEY`` stops the
app at start-up: no secret has a default.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from moderation.services.webhooks.signing import key_of

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent

DEFAULTS: dict[str, Any] = {
    "ENV": "production",  # "production" | "development" | "testing"
    "DATABASE_URL": f"sqlite:///{PROJECT_ROOT / 'var' / 'moderation.db'}",
    # SQLite only. FULL: every comment answered 201 is on disk (one fsync per comment, which
    # caps intake at about 1 / fsync time). NORMAL: survives the service crashing, but an
    # operating-system crash or power cut may lose the last comments answered 201.
    "SQLITE_SYNCHRONOUS": "FULL",
    # Trained model versions and the ACTIVE pointer (writable, outside the checkout), over the
    # read-only versions shipped in the repository's models/ (SHIPPED_MODELS_DIR; "" for none).
    "MODELS_DIR": str(PROJECT_ROOT / "var" / "models"),
    "SHIPPED_MODELS_DIR": str(PROJECT_ROOT / "models"),
    "MODEL_VERSION": None,  # None: the active version
    "SCORER_BACKEND": "sklearn",  # "sklearn" | "fixed" (tests, or running without a model)
    "RELOAD_SECONDS": 2,  # how often a worker looks at the ACTIVE pointer for a new version
    "FIXED_SCORES": {"spam": 0.0, "abuse": 0.0},
    # Which of the model's threshold sets to use: "lenient" (fewer comments held for review,
    # more risk of publishing spam or abuse), "balanced" or "strict" (more held, less risk).
    "STRICTNESS": "balanced",
    # Per-head threshold overrides; None keeps the model's own.
    "SPAM_ALLOW": None,
    "SPAM_REJECT": None,
    "ABUSE_ALLOW": None,
    "ABUSE_REJECT": None,
    # Intake rules
    "FLOOD_SECONDS": 15,
    "MAX_LINKS": 2,
    "BLOCKED_IPS": [],
    "BLOCKED_EMAILS": [],
    "BLOCKED_DOMAINS": [],
    "BANNED_WORDS": [],
    "SUSPECT_WORDS": [],
    "TRUSTED_AFTER_APPROVED": 2,  # approved comments (and none refused) make a trusted author
    "HONEYPOT_FIELD": "fax_number",
    "MIN_FILL_SECONDS": 3,
    "FORM_TOKEN_MAX_AGE": 86400,
    # A browser's comment without the form's token (GET /comments/form-token) is a bot trap:
    # held for a human when it reads like a real comment, spam otherwise.
    "REQUIRE_FORM_TOKEN": True,
    # Where a form post may be redirected after success: origins like "https://news.example".
    "SITE_ORIGINS": [],
    # Request limits: the whole body, and the comment text (WordPress's 65,525 bytes).
    "MAX_CONTENT_LENGTH": 256 * 1024,
    "MAX_COMMENT_BYTES": 65525,
    "PER_PAGE_DEFAULT": 50,
    "PER_PAGE_MAX": 200,
    "CLAIM_SECONDS": 300,  # a moderator's lease on a queue item
    # Where an article is read, for the queue's article links: "{article_id}" is replaced by the
    # article id (URL-encoded), e.g. "https://news.example/?p={article_id}". Empty: the demo
    # article's page for its id, else the queue filtered to the article.
    "ARTICLE_URL": "",
    # A request that has not finished by then (a stalled database) answers 503; 0: no deadline.
    "REQUEST_DEADLINE_SECONDS": 10,
    # Cookies only over HTTPS: on by default in production (make run, plain HTTP on loopback,
    # turns it off); None means "decide by MODERATION_ENV".
    "SESSION_COOKIE_SECURE": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": 12 * 3600,  # a moderator's sign-in lasts a working day
    "WTF_CSRF_CHECK_DEFAULT": False,  # checked where a session cookie authenticates a write
    # /metrics answers only with "Authorization: Bearer <METRICS_TOKEN>" (in production it
    # answers 403 until a token is set; in development and tests it is open).
    "METRICS_TOKEN": None,
    # The example article page /demo/article (off unless enabled; make run enables it).
    "DEMO_PAGE": False,
    # Behind a reverse proxy: how many X-Forwarded-* hops to trust (0: none).
    "PROXY_FIX_X_FOR": 0,
    "SECRET_KEY": None,
    # Rate limits (Flask-Limiter syntax). Counters in memory per process unless a Redis URI
    # is given (redis://127.0.0.1:6379/0), which all workers and hosts then share.
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "memory://",
    # X-RateLimit-* headers on answers (off: only a 429 says when to come back, Retry-After).
    "RATELIMIT_HEADERS_ENABLED": False,
    "INTAKE_RATE_LIMIT": "10/minute;100/hour",  # per client address
    "REPORT_RATE_LIMIT": "5/minute;30/hour;100/day",  # readers' reports, per client address
    "SITE_RATE_LIMIT": "600/minute",  # per site API key
    # Moderator sign-in attempts, per client address and per account name.
    "LOGIN_RATE_LIMIT_ADDRESS": "10/minute;30/hour;100/day",
    "LOGIN_RATE_LIMIT_ACCOUNT": "5/minute;15/hour;40/day",
    # Privacy: after this many days a comment's IP address, user agent and referrer are erased
    # (moderation purge, and the service itself at most hourly); delivered webhook events are
    # deleted after WEBHOOK_RETENTION_DAYS.
    "RETENTION_DAYS": 30,
    "WEBHOOK_RETENTION_DAYS": 7,
    # New training labels a site key may send a day (Akismet submit-spam/ham, Perspective
    # suggestscore); repeats of a text update its label and do not count.
    "FEEDBACK_DAILY_CAP": 500,
    # Webhooks (moderation/services/webhooks/): where events are POSTed (None: no webhooks),
    # the signing secrets (a list: every one signs, for rotation; required in production when
    # a URL is set), the per-request timeout in seconds, and attempts before giving up.
    "WEBHOOK_URL": None,
    "WEBHOOK_SECRETS": [],
    "WEBHOOK_TIMEOUT": 5,
    "WEBHOOK_MAX_ATTEMPTS": 20,
}

_LIST_KEYS = (
    "BLOCKED_IPS",
    "BLOCKED_EMAILS",
    "BLOCKED_DOMAINS",
    "BANNED_WORDS",
    "SUSPECT_WORDS",
    "SITE_ORIGINS",
)
_FLOAT_KEYS = (
    "SPAM_ALLOW",
    "SPAM_REJECT",
    "ABUSE_ALLOW",
    "ABUSE_REJECT",
    "RELOAD_SECONDS",
    "REQUEST_DEADLINE_SECONDS",
)
_INT_KEYS = (
    "FLOOD_SECONDS",
    "MAX_LINKS",
    "TRUSTED_AFTER_APPROVED",
    "MIN_FILL_SECONDS",
    "FORM_TOKEN_MAX_AGE",
    "MAX_CONTENT_LENGTH",
    "MAX_COMMENT_BYTES",
    "PER_PAGE_DEFAULT",
    "PER_PAGE_MAX",
    "PROXY_FIX_X_FOR",
    "CLAIM_SECONDS",
    "FEEDBACK_DAILY_CAP",
    "RETENTION_DAYS",
    "WEBHOOK_RETENTION_DAYS",
)


class ConfigError(RuntimeError):
    """A required setting is missing or a setting cannot be read."""


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            parsed = json.loads(text)
            return [str(v).strip() for v in parsed if str(v).strip()]
        return [part.strip() for part in text.split(",") if part.strip()]
    return [str(v).strip() for v in value if str(v).strip()]


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def load_config(app: Flask, overrides: Mapping[str, Any] | None = None) -> None:
    """Fill ``app.config``: defaults, then ``MODERATION_*`` variables, then ``overrides``."""
    app.config.from_mapping(DEFAULTS)
    # from_prefixed_env parses JSON values ("15" -> 15, "[...]" -> list), strings otherwise.
    app.config.from_prefixed_env("MODERATION")
    if overrides:
        app.config.from_mapping(overrides)
    try:
        for key in _LIST_KEYS:
            app.config[key] = _as_list(app.config[key])
        for key in _FLOAT_KEYS:
            if app.config[key] is not None and app.config[key] != "":
                app.config[key] = float(app.config[key])
                probability = key not in ("RELOAD_SECONDS", "REQUEST_DEADLINE_SECONDS")
                if probability and not 0.0 <= app.config[key] <= 1.0:
                    raise ValueError(f"MODERATION_{key} must be between 0 and 1")
        for key in _INT_KEYS:
            app.config[key] = int(app.config[key])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad setting: {exc}") from exc
    app.config["SITE_ORIGINS"] = [o.rstrip("/").lower() for o in app.config["SITE_ORIGINS"]]
    app.config["BLOCKED_EMAILS"] = [e.lower() for e in app.config["BLOCKED_EMAILS"]]
    app.config["BLOCKED_DOMAINS"] = [d.lower() for d in app.config["BLOCKED_DOMAINS"]]
    if app.config["SESSION_COOKIE_SECURE"] in (None, ""):
        app.config["SESSION_COOKIE_SECURE"] = app.config["ENV"] == "production"
    app.config["SESSION_COOKIE_SECURE"] = _as_bool(app.config["SESSION_COOKIE_SECURE"])
    app.config["DEMO_PAGE"] = _as_bool(app.config["DEMO_PAGE"])
    app.config["REQUIRE_FORM_TOKEN"] = _as_bool(app.config["REQUIRE_FORM_TOKEN"])
    if app.config.get("METRICS_TOKEN") is not None:
        app.config["METRICS_TOKEN"] = str(app.config["METRICS_TOKEN"]) or None
    app.config["SQLITE_SYNCHRONOUS"] = str(app.config["SQLITE_SYNCHRONOUS"]).upper()
    if app.config["SQLITE_SYNCHRONOUS"] not in ("FULL", "NORMAL"):
        raise ConfigError("MODERATION_SQLITE_SYNCHRONOUS must be FULL or NORMAL")
    if app.config["STRICTNESS"] not in ("lenient", "balanced", "strict"):
        raise ConfigError("MODERATION_STRICTNESS must be lenient, balanced or strict")
    if app.config["ENV"] not in ("production", "development", "testing"):
        raise ConfigError("MODERATION_ENV must be production, development or testing")
    if app.config.get("SECRET_KEY") is not None:
        # from_prefixed_env reads an all-digit value as a JSON number: a key is text.
        app.config["SECRET_KEY"] = str(app.config["SECRET_KEY"])
    if not app.config.get("SECRET_KEY"):
        if app.config["ENV"] == "production":
            raise ConfigError(
                "MODERATION_SECRET_KEY is required in production "
                "(or set MODERATION_ENV=development to use a throwaway key)"
            )
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    _webhook_settings(app.config)


def _webhook_settings(config: dict[str, Any]) -> None:
    """Read the WEBHOOK_* settings; a webhook URL needs a signing secret in production."""
    raw = config.get("WEBHOOK_SECRETS")
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)  # a secret of digits only, which the environment reader took for JSON
    try:
        if isinstance(raw, float):
            raise ValueError('write it as a JSON list: ["..."]')
        config["WEBHOOK_SECRETS"] = _as_list(raw)
        for secret in config["WEBHOOK_SECRETS"]:
            key_of(secret)  # a whsec_ secret must decode, or nothing could be signed
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad MODERATION_WEBHOOK_SECRETS: {exc}") from exc
    try:
        config["WEBHOOK_TIMEOUT"] = float(config["WEBHOOK_TIMEOUT"])
        config["WEBHOOK_MAX_ATTEMPTS"] = int(config["WEBHOOK_MAX_ATTEMPTS"])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad setting: {exc}") from exc
    if config["WEBHOOK_TIMEOUT"] <= 0 or config["WEBHOOK_MAX_ATTEMPTS"] < 1:
        raise ConfigError("MODERATION_WEBHOOK_TIMEOUT and _MAX_ATTEMPTS must be positive")
    url = str(config.get("WEBHOOK_URL") or "").strip()
    config["WEBHOOK_URL"] = url or None
    if url and not url.lower().startswith(("http://", "https://")):
        raise ConfigError("MODERATION_WEBHOOK_URL must be an http:// or https:// URL")
    if url and "@" in url.split("/")[2]:
        raise ConfigError(
            "MODERATION_WEBHOOK_URL must not carry credentials (user:pass@): the signature "
            "authenticates the service to the receiver"
        )
    if url and not config["WEBHOOK_SECRETS"] and config["ENV"] == "production":
        raise ConfigError(
            "MODERATION_WEBHOOK_SECRETS is required in production when MODERATION_WEBHOOK_URL "
            "is set (make one with `moderation webhooks new-secret`; several, comma-separated, "
            "while rotating)"
        )
