"""What the site shows: an article's approved comments, threaded and paginated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moderation.services.policy import Status
from moderation.tables import Comment

Order = Literal["oldest", "newest"]


@dataclass(frozen=True)
class CommentPage:
    """One page of top-level comments, each with its approved replies nested."""

    total: int
    comments: list[dict[str, Any]]


def public_comment(comment: Comment) -> dict[str, Any]:
    """The fields anyone may see (never the email, IP or scores). Text is data, not HTML."""
    return {
        "id": comment.id,
        "article_id": comment.article_id,
        "parent_id": comment.parent_id,
        "author": comment.author,
        "url": comment.url,
        "content": comment.content,
        "created_at": comment.created_at.isoformat(),
    }


def article_comments(
    session: Session, *, article_id: str, order: Order, page: int, per_page: int
) -> CommentPage:
    """Approved top-level comments of one page, with every approved reply below them."""
    approved = (Comment.article_id == article_id) & (Comment.status == Status.APPROVED)
    total = session.scalar(
        select(func.count()).select_from(Comment).where(approved, Comment.parent_id.is_(None))
    )
    sort = (Comment.created_at, Comment.id)
    top = session.scalars(
        select(Comment)
        .where(approved, Comment.parent_id.is_(None))
        .order_by(*(c.desc() for c in sort) if order == "newest" else sort)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    replies = session.scalars(
        select(Comment).where(approved, Comment.parent_id.is_not(None)).order_by(*sort)
    ).all()
    children: dict[int, list[Comment]] = {}
    for reply in replies:
        if reply.parent_id is not None:
            children.setdefault(reply.parent_id, []).append(reply)

    def tree(comment: Comment, seen: frozenset[int]) -> dict[str, Any]:
        node = public_comment(comment)
        node["replies"] = [
            tree(child, seen | {child.id})
            for child in children.get(comment.id, [])
            if child.id not in seen
        ]
        return node

    return CommentPage(total=total or 0, comments=[tree(c, frozenset({c.id})) for c in top])
