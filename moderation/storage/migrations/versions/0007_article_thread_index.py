"""article listing: an index that pages an article's published threads in SQL

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_comments_article_threads",
        "comments",
        ["article_id", "status", "parent_id", "created_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_comments_article_threads", table_name="comments")
