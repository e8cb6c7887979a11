"""ORM tables. (The top-level ``models/`` folder holds ML artifacts, not these.)

A comment's scores, model version and automatic decision are stored as append-only facts
(``Prediction``, ``DecisionRecord``) beside the comment; ``Comment.status`` is the current
state that publishing reads.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from moderation.domain.policy import Role, Status
from moderation.storage.db import Base, utcnow


def _by_value(enum: type[StrEnum], name: str) -> Enum:
    """A column type that stores a StrEnum by its value (a checked VARCHAR on every backend)."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        length=16,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


STATUS_TYPE = _by_value(Status, "comment_status")


class Comment(Base):
    """A comment as submitted, with the request metadata spam scoring uses."""

    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[str] = mapped_column(String(100), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id"), index=True)
    author: Mapped[str] = mapped_column(String(245))
    email: Mapped[str] = mapped_column(String(100), index=True)
    url: Mapped[str] = mapped_column(String(200), default="")
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[Status] = mapped_column(STATUS_TYPE)
    ip: Mapped[str] = mapped_column(String(45), default="", index=True)
    user_agent: Mapped[str] = mapped_column(String(512), default="")
    referrer: Mapped[str] = mapped_column(String(2048), default="")
    duplicate_key: Mapped[str] = mapped_column(
        String(64), unique=True, comment="sha256 of article, email and normalised text"
    )
    # The latest model scores and reason codes, copied from the append-only predictions and
    # decisions so that the review queue can filter and sort on them.
    spam_score: Mapped[float | None]
    abuse_score: Mapped[float | None]
    reason_codes: Mapped[str] = mapped_column(
        String(500), default="", comment="',code,code,' of the latest decision"
    )
    priority: Mapped[float] = mapped_column(
        default=0.0, comment="review order: 1 = the model was most unsure, 0 = sure"
    )
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("moderators.id"), index=True)
    claim_expires_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(
        default=1, comment="bumped on every change; a stale decision is refused"
    )
    open_reports: Mapped[int] = mapped_column(
        default=0, comment="readers' reports a moderator has not handled yet"
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    predictions: Mapped[list[Prediction]] = relationship(
        back_populates="comment", order_by="Prediction.id"
    )
    decisions: Mapped[list[DecisionRecord]] = relationship(
        back_populates="comment", order_by="DecisionRecord.id"
    )

    __table_args__ = (
        Index("ix_comments_article_status", "article_id", "status", "created_at"),
        # An article's published threads in order, and their counts, from the index alone.
        Index(
            "ix_comments_article_threads", "article_id", "status", "parent_id", "created_at", "id"
        ),
        # The queue's tabs and orders, each served by one index (keyset paging on id).
        Index("ix_comments_status_id", "status", "id"),
        Index("ix_comments_status_priority_id", "status", "priority", "id"),
        Index("ix_comments_status_created_id", "status", "created_at", "id"),
        Index("ix_comments_reported", "open_reports", "id"),
    )
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it


class Prediction(Base):
    """One scoring of a comment by a model version (never overwritten)."""

    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"), index=True)
    model_version: Mapped[str] = mapped_column(String(64))
    spam: Mapped[float | None]
    abuse: Mapped[float | None]
    thresholds: Mapped[dict[str, Any] | None] = mapped_column(
        JSON(none_as_null=True),
        comment="per head, the allow and reject thresholds in force when scored",
    )
    explanation: Mapped[dict[str, Any] | None] = mapped_column(
        JSON(none_as_null=True),
        comment="per head, the words that raised the score (kept for comments held for "
        "review, so the queue never runs the model)",
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    comment: Mapped[Comment] = relationship(back_populates="predictions")


class DecisionRecord(Base):
    """A decision on a comment: the automatic one at intake, later human ones (append-only).

    An undo is a decision too: it restores the status before the decision it ``undoes``.
    """

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"), index=True)
    actor: Mapped[str] = mapped_column(String(100), comment="'system' or a moderator's name")
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("moderators.id"), index=True)
    status: Mapped[Status] = mapped_column(STATUS_TYPE)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    undoes_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    comment: Mapped[Comment] = relationship(back_populates="decisions")


class Report(Base):
    """A reader's report on a published comment (one per reader and comment)."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"))
    reader: Mapped[str] = mapped_column(
        String(64),
        comment="keyed hash of the reader's address: one report per reader and comment",
    )
    reason: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(
        comment="when a moderator decided the comment after this report"
    )

    __table_args__ = (UniqueConstraint("comment_id", "reader"),)


class AuthorRule(Base):
    """A moderator's standing rule on an author: block an email or an address, trust an email."""

    __tablename__ = "author_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), comment="'email' or 'ip'")
    value: Mapped[str] = mapped_column(String(100), comment="a lower-cased email, or an address")
    action: Mapped[str] = mapped_column(String(8), comment="'block' or 'trust'")
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("moderators.id"))
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("kind", "value"),)


class SiteKey(Base):
    """An API key of a site's backend (stored as a sha256; the key itself is shown once)."""

    __tablename__ = "site_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


ROLE_TYPE = _by_value(Role, "moderator_role")


class Moderator(Base):
    """A person who works the review queue (password stored as a salted hash)."""

    __tablename__ = "moderators"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[Role] = mapped_column(ROLE_TYPE)
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]
    # Bumped by a new password or a lock-out: sign-in sessions of an older generation end.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")


class ApiToken(Base):
    """A moderator's API token (stored as a sha256; shown once)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    moderator_id: Mapped[int] = mapped_column(ForeignKey("moderators.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    moderator: Mapped[Moderator] = relationship()


class FeedbackLabel(Base):
    """A label a site sent through a compatibility API (Akismet submit-spam/ham, Perspective
    suggestscore): training data, kept apart from moderators' decisions."""

    __tablename__ = "feedback_labels"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32), comment="'akismet' or 'perspective'")
    site_key_id: Mapped[int | None] = mapped_column(ForeignKey("site_keys.id"), index=True)
    content: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(245), default="")
    email: Mapped[str] = mapped_column(String(100), default="")
    url: Mapped[str] = mapped_column(String(200), default="")
    spam: Mapped[int | None] = mapped_column(comment="1 spam, 0 not spam, NULL unknown")
    abuse: Mapped[int | None] = mapped_column(comment="1 abusive, 0 not, NULL unknown")
    content_digest: Mapped[str] = mapped_column(
        String(64), comment="sha256 of the normalised text: one label per site and text"
    )
    status: Mapped[str] = mapped_column(
        String(16),
        default="pending",
        index=True,
        comment="pending, accepted or rejected by a moderator; only accepted ones train",
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    __table_args__ = (UniqueConstraint("site_key_id", "content_digest"),)


class FormTokenUse(Base):
    """A reply form's token that has been spent: each token posts one comment."""

    __tablename__ = "form_token_uses"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True, comment="sha256 of the token")
    used_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class WebhookEvent(Base):
    """An event waiting to be delivered to the site (the outbox), or delivered."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(64), comment="comment.published/rejected/held")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(index=True)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelVersion(Base):
    """A model version's files, so that every instance can load the version activated on any of
    them (each instance unpacks it into its own models folder and verifies it there)."""

    __tablename__ = "model_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    manifest_sha256: Mapped[str] = mapped_column(
        String(64), comment="sha256 of manifest.json, which holds the sha256 of every head's file"
    )
    archive: Mapped[bytes] = mapped_column(LargeBinary, comment="zip of the version folder")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelActivation(Base):
    """A model version made the active one (append-only: the latest row is the active version)."""

    __tablename__ = "model_activations"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(ForeignKey("model_versions.version"))
    actor: Mapped[str] = mapped_column(String(100), comment="'cli' or a moderator's name")
    activated_at: Mapped[datetime] = mapped_column(default=utcnow)
