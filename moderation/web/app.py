"""The app factory: configuration, logging, database, scorer, error handlers, blueprints.

Nothing here runs at import time: ``create_app`` builds each app from its config, loads the
model once for the process and keeps it on ``app.extensions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from moderation.web import (
    akismet,
    api,
    comments,
    database,
    deadline,
    demo,
    extensions,
    health,
    logs,
    metrics,
    metrics_endpoint,
    moderate,
    openapi,
    perspective,
    ratelimit,
    reports,
    retention,
    security,
    stats,
)
from moderation.web.auth import csrf
from moderation.web.config import load_config
from moderation.web.errors import register_error_handlers


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: config, logging, database, scorer, error handlers, blueprints."""
    # The package's name, so that templates/ and static/ are found beside moderation/.
    app = Flask("moderation")
    load_config(app, config)
    logs.init_app(app)
    security.init_app(app)
    database.init_app(app)
    deadline.init_app(app)
    retention.init_app(app)  # after the answer, under a deadline of its own
    extensions.init_app(app)
    metrics.init_app(app)
    metrics_endpoint.init_app(app)
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
