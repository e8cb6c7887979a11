"""Test data: rows with sensible defaults, flushed (never committed)."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from moderation.domain.policy import Role, Status
from moderation.services.intake import duplicate_key
from moderation.storage.db import utcnow
from moderation.storage.tables import Comment, DecisionRecord, Moderator, Prediction

_counter = itertools.count(1)


def make_comment(
    session: Session, approved_by: Moderator | None = None, **overrides: Any
) -> Comment:
    """A stored comment (approved by default) with a prediction and a system decision.

    :param approved_by: also record that this moderator approved it.
    """
    n = next(_counter)
    overrides.setdefault("article_id", "article-1")
    overrides.setdefault("author", f"Reader {n}")
    overrides.setdefault("email", f"reader{n}@example.org")
    overrides.setdefault("url", "")
    overrides.setdefault("content", f"A civil comment number {n}.")
    overrides.setdefault("status", Status.APPROVED)
    overrides.setdefault("spam_score", 0.01)
    overrides.setdefault("abuse_score", 0.01)
    overrides.setdefault("reason_codes", ",model_clear,")
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
    codes = [c for c in comment.reason_codes.split(",") if c]
    comment.decisions.append(
        DecisionRecord(
            actor="system",
            status=comment.status,
            reasons=[{"code": c, "detail": ""} for c in codes],
        )
    )
    if approved_by is not None:
        comment.decisions.append(
            DecisionRecord(
                actor=approved_by.name,
                moderator_id=approved_by.id,
                status=Status.APPROVED,
                reasons=[{"code": "moderator", "detail": "approve"}],
            )
        )
    session.add(comment)
    session.flush()
    return comment


def make_pending(session: Session, **overrides: Any) -> Comment:
    """A comment waiting for review."""
    overrides.setdefault("status", Status.PENDING)
    overrides.setdefault("spam_score", 0.5)
    overrides.setdefault("reason_codes", ",spam_uncertain,new_author,")
    overrides.setdefault("priority", 0.5)
    return make_comment(session, **overrides)


def make_moderator(
    session: Session,
    name: str = "mod",
    role: Role = Role.MODERATOR,
    password: str = "correct horse",
) -> Moderator:
    """A moderator account (password "correct horse" unless given)."""
    from moderation.services.moderators import create_moderator

    return create_moderator(session, name=name, role=role, password=password)
