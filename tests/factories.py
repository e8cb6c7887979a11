"""Test data: rows with sensible defaults, flushed (never committed)."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from moderation.db import utcnow
from moderation.services.intake import duplicate_key
from moderation.services.policy import Status
from moderation.tables import Comment, Decision, Prediction

_counter = itertools.count(1)


def make_comment(session: Session, **overrides: Any) -> Comment:
    """A stored comment (approved by default) with a prediction and a system decision."""
    n = next(_counter)
    overrides.setdefault("article_id", "article-1")
    overrides.setdefault("author", f"Reader {n}")
    overrides.setdefault("email", f"reader{n}@example.org")
    overrides.setdefault("url", "")
    overrides.setdefault("content", f"A civil comment number {n}.")
    overrides.setdefault("status", Status.APPROVED)
    overrides.setdefault("ip", f"10.0.{n // 250}.{n % 250}")
    overrides.setdefault("user_agent", "pytest")
    overrides.setdefault("referrer", "")
    now = overrides.setdefault("created_at", utcnow())
    overrides.setdefault("updated_at", now)
    overrides.setdefault(
        "duplicate_key",
        duplicate_key(overrides["article_id"], overrides["email"], overrides["content"]),
    )
    comment = Comment(**overrides)
    comment.predictions.append(Prediction(model_version="fixed", spam=0.01, abuse=0.01))
    comment.decisions.append(Decision(actor="system", status=comment.status, reasons=[]))
    session.add(comment)
    session.flush()
    return comment
