"""label review and deduplication, single-use form tokens

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _digest(text: str) -> str:
    # The same digest the label service computes (moderation.services.feedback.content_digest)
    # needs the normaliser; a migration must not import application code, so existing rows
    # get the digest of their lower-cased, space-collapsed text, and later duplicates of them
    # are merged when the service next sees them.
    return hashlib.sha256(" ".join(text.lower().split()).encode("utf-8")).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("feedback_labels", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "content_digest",
                sa.String(length=64),
                nullable=True,
                comment="sha256 of the normalised text: one label per site and text",
            )
        )
        batch_op.add_column(
            sa.Column(
                "status",
                sa.String(length=16),
                nullable=False,
                server_default="pending",
                comment="pending, accepted or rejected by a moderator; only accepted ones train",
            )
        )
    labels = sa.table(
        "feedback_labels",
        sa.column("id", sa.Integer),
        sa.column("site_key_id", sa.Integer),
        sa.column("content", sa.Text),
        sa.column("content_digest", sa.String),
    )
    connection = op.get_bind()
    seen: set[tuple[int | None, str]] = set()
    for row in connection.execute(
        sa.select(labels.c.id, labels.c.site_key_id, labels.c.content).order_by(labels.c.id.desc())
    ):
        digest = _digest(row.content)
        if (row.site_key_id, digest) in seen:  # an older repeat of a label: the latest stays
            connection.execute(sa.delete(labels).where(labels.c.id == row.id))
            continue
        seen.add((row.site_key_id, digest))
        connection.execute(
            sa.update(labels).where(labels.c.id == row.id).values(content_digest=digest)
        )
    with op.batch_alter_table("feedback_labels", schema=None) as batch_op:
        batch_op.alter_column("content_digest", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("status", server_default=None)
        batch_op.create_index(batch_op.f("ix_feedback_labels_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_feedback_labels_created_at"), ["created_at"], unique=False
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_feedback_labels_site_key_id"), ["site_key_id", "content_digest"]
        )

    op.create_table(
        "form_token_uses",
        sa.Column("digest", sa.String(length=64), nullable=False, comment="sha256 of the token"),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_form_token_uses")),
    )
    with op.batch_alter_table("form_token_uses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_form_token_uses_used_at"), ["used_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("form_token_uses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_token_uses_used_at"))
    op.drop_table("form_token_uses")
    with op.batch_alter_table("feedback_labels", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_feedback_labels_site_key_id"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_feedback_labels_created_at"))
        batch_op.drop_index(batch_op.f("ix_feedback_labels_status"))
        batch_op.drop_column("status")
        batch_op.drop_column("content_digest")
