"""Self-hosted comment moderation service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: config, logging, database, scorer, error handlers, blueprints."""
    from moderation import deadline, logs, metrics, ratelimit, retention, security
    from moderation.config import load_config
    from moderation.web import (
        akismet,
        api,
        comments,
        demo,
        extensions,
        health,
        moderate,
        openapi,
        perspective,
        reports,
        stats,
    )
    from moderation.web import database as db
    from moderation.web.auth import csrf
    from moderation.web.errors import register_error_handlers

    app = Flask(__name__)
    load_config(app, config)
    logs.init_app(app)
    security.init_app(app)
    db.init_app(app)
    deadline.init_app(app)
    retention.init_app(app)  # after the deadline: a stalled purge cannot hang a request
    extensions.init_app(app)
    metrics.init_app(app)
    csrf.init_app(app)
    register_error_handlers(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(comments.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(moderate.bp)
    app.register_blueprint(stats.bp)
    app.register_blueprint(demo.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(akismet.bp)
    app.register_blueprint(perspective.bp)
    ratelimit.init_app(
        app,
        compat={akismet.bp: ratelimit.akismet_key, perspective.bp: ratelimit.perspective_key},
    )
    return app
