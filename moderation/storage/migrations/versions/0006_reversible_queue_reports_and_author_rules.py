"""review queue at scale: reader reports, author rules, stored explanations, queue indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "open_reports",
                sa.Integer(),
                nullable=False,
                server_default="0",
                comment="readers' reports a moderator has not handled yet",
            )
        )
        batch_op.drop_index("ix_comments_status")
        batch_op.drop_index("ix_comments_status_priority")
        # The queue's tabs and orders, each served by one index (keyset paging on id).
        batch_op.create_index("ix_comments_status_id", ["status", "id"], unique=False)
        batch_op.create_index(
            "ix_comments_status_priority_id", ["status", "priority", "id"], unique=False
        )
        batch_op.create_index(
            "ix_comments_status_created_id", ["status", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_comments_reported", ["open_reports", "id"], unique=False)

    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "thresholds",
                sa.JSON(),
                nullable=True,
                comment="per head, the allow and reject thresholds in force when scored",
            )
        )
        batch_op.add_column(
            sa.Column(
                "explanation",
                sa.JSON(),
                nullable=True,
                comment="per head, the words that raised the score (kept for comments held "
                "for review, so the queue never runs the model)",
            )
        )

    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column(
            "reader",
            sa.String(64),
            nullable=False,
            comment="keyed hash of the reader's address: one report per reader and comment",
        ),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "resolved_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="when a moderator decided the comment after this report",
        ),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["comments.id"], name=op.f("fk_reports_comment_id_comments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("comment_id", "reader", name=op.f("uq_reports_comment_id")),
    )
    op.create_table(
        "author_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False, comment="'email' or 'ip'"),
        sa.Column(
            "value", sa.String(100), nullable=False, comment="a lower-cased email, or an address"
        ),
        sa.Column("action", sa.String(8), nullable=False, comment="'block' or 'trust'"),
        sa.Column("moderator_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["moderator_id"],
            ["moderators.id"],
            name=op.f("fk_author_rules_moderator_id_moderators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_author_rules")),
        sa.UniqueConstraint("kind", "value", name=op.f("uq_author_rules_kind")),
    )


def downgrade() -> None:
    op.drop_table("author_rules")
    op.drop_table("reports")
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_column("explanation")
        batch_op.drop_column("thresholds")
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_index("ix_comments_reported")
        batch_op.drop_index("ix_comments_status_created_id")
        batch_op.drop_index("ix_comments_status_priority_id")
        batch_op.drop_index("ix_comments_status_id")
        batch_op.create_index("ix_comments_status_priority", ["status", "priority"], unique=False)
        batch_op.create_index("ix_comments_status", ["status"], unique=False)
        batch_op.drop_column("open_reports")
