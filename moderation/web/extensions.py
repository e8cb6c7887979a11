"""Per-app collaborators of the views: the scorer (loaded once per process in the factory and
kept on ``app.extensions``), whether webhooks are sent, and committing a moderator's decision."""

from __future__ import annotations

from flask import Flask, current_app
from sqlalchemy.orm import Session

from moderation.services import webhooks
from moderation.services.scoring import Scorer, ScorerHolder
from moderation.storage.tables import DecisionRecord
from moderation.web import metrics
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


def commit_decision(session: Session, decision: DecisionRecord) -> None:
    """Commit a moderator's decision together with its webhook event (the outbox, in the same
    transaction), then count it in the metrics."""
    webhooks.enqueue_status(session, decision.comment, enabled=webhooks_enabled())
    session.commit()
    metrics.decided(decision)


def webhooks_enabled() -> bool:
    """Whether the current app sends webhooks (``MODERATION_WEBHOOK_URL`` is set)."""
    return bool(current_app.config.get("WEBHOOK_URL"))
