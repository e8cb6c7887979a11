"""Per-app collaborators of the views: the scorer (loaded once per process in the factory and
kept on ``app.extensions``) and whether webhooks are sent."""

from __future__ import annotations

from flask import Flask, current_app

from moderation.services.scoring import Scorer, ScorerHolder
from moderation.web.database import get_engine

EXTENSION = "moderation.scorer"


def init_app(app: Flask) -> None:
    """Load the model once per process; without one, comments wait for review."""
    holder = ScorerHolder(app.config, get_engine(app))
    if holder.scorer is None:
        app.logger.error("no model loaded, every comment will wait for review: %s", holder.error)
    app.extensions[EXTENSION] = holder


def get_holder(app: Flask) -> ScorerHolder:
    """The app's scorer holder (the current scorer and why none was loaded)."""
    holder: ScorerHolder = app.extensions[EXTENSION]
    return holder


def get_scorer() -> Scorer | None:
    """The current app's scorer, or ``None`` when no model could be loaded."""
    return get_holder(current_app).get()


def webhooks_enabled() -> bool:
    """Whether the current app sends webhooks (``MODERATION_WEBHOOK_URL`` is set)."""
    return bool(current_app.config.get("WEBHOOK_URL"))
