"""What the site shows: an article's approved comments, threaded and paginated in SQL.

A page is a run of top-level comments (LIMIT with a page number, or keyset after a comment id)
with their whole threads, as WordPress pages comments: only that page's replies are read (a
recursive query from the page's top-level ids), never every reply of the article.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from moderation.domain.policy import Status
from moderation.storage.tables import Comment

Order = Literal["oldest", "newest"]

# A page never reads more replies than this (one enormous thread must not make one page
# unbounded); the page says when its threads were cut.
MAX_REPLIES_PER_PAGE = 1000
# Replies nested deeper than this are listed under their ancestor at this depth (WordPress's
# thread depth): the JSON and the page stay shallow however long a back-and-forth goes.
MAX_DEPTH = 10


@dataclass(frozen=True)
class CommentPage:
    """One page of top-level comments, each with its approved replies nested."""

    total: int  # top-level comments (threads): what pages count
    comments: list[dict[str, Any]]
    comment_count: int = 0  # every approved comment, replies included (the "N comments" line)
    next_after: int | None = None  # the keyset cursor of the next page, when there is one
    replies_truncated: bool = False


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
    session: Session,
    *,
    article_id: str,
    order: Order,
    page: int,
    per_page: int,
    after: int | None = None,
) -> CommentPage:
    """Approved top-level comments of one page, with their approved replies below them.

    :param after: keyset paging: the page starts after this top-level comment (``page`` is
        then ignored); cheaper than a page number deep into a long discussion.
    """
    approved = (Comment.article_id == article_id) & (Comment.status == Status.APPROVED)
    top_level = approved & Comment.parent_id.is_(None)
    # Both counts read only ix_comments_article_threads (article, status, parent, time, id).
    total = session.scalar(select(func.count()).select_from(Comment).where(top_level)) or 0
    comment_count = session.scalar(select(func.count()).select_from(Comment).where(approved)) or 0

    newest = order == "newest"
    query = select(Comment).where(top_level)
    if after is not None:
        anchor = select(Comment.created_at).where(Comment.id == after).scalar_subquery()
        if newest:
            query = query.where(
                (Comment.created_at < anchor)
                | ((Comment.created_at == anchor) & (Comment.id < after))
            )
        else:
            query = query.where(
                (Comment.created_at > anchor)
                | ((Comment.created_at == anchor) & (Comment.id > after))
            )
    else:
        query = query.offset((page - 1) * per_page)
    sort = (
        (Comment.created_at.desc(), Comment.id.desc())
        if newest
        else (Comment.created_at, Comment.id)
    )
    # One more than a page tells whether another page follows.
    top = list(session.scalars(query.order_by(*sort).limit(per_page + 1)))
    more = len(top) > per_page
    top = top[:per_page]

    replies: list[Comment] = []
    if top:
        # The page's threads: every approved reply reachable from its top-level comments
        # (UNION, not UNION ALL: a cycle could not loop). Each step is an index lookup on
        # parent_id.
        anchor_ids = select(Comment.id).where(Comment.id.in_([c.id for c in top]))
        thread = anchor_ids.cte("thread", recursive=True)
        child = Comment.__table__.alias("child")
        thread = thread.union(
            select(child.c.id).where(
                child.c.parent_id == thread.c.id,
                child.c.status == Status.APPROVED,
                child.c.article_id == article_id,
            )
        )
        replies = list(
            session.scalars(
                select(Comment)
                .where(Comment.id.in_(select(thread.c.id)), Comment.parent_id.is_not(None))
                .order_by(Comment.created_at, Comment.id)
                .limit(MAX_REPLIES_PER_PAGE + 1)
            )
        )
    truncated = len(replies) > MAX_REPLIES_PER_PAGE
    replies = replies[:MAX_REPLIES_PER_PAGE]
    children: dict[int, list[Comment]] = {}
    for reply in replies:
        if reply.parent_id is not None:
            children.setdefault(reply.parent_id, []).append(reply)
    comments = [_thread(c, children) for c in top]
    return CommentPage(
        total=total,
        comments=comments,
        comment_count=comment_count,
        next_after=top[-1].id if more and top else None,
        replies_truncated=truncated,
    )


def _thread(top: Comment, children: dict[int, list[Comment]]) -> dict[str, Any]:
    """A top-level comment with its replies nested (iteratively: a deep thread cannot overflow
    the stack); deeper than MAX_DEPTH, replies join their ancestor's list, oldest first."""
    root = public_comment(top)
    root["replies"] = []
    # (a comment, the list its replies go into, the depth of that list's items)
    stack: list[tuple[int, list[dict[str, Any]], int]] = [(top.id, root["replies"], 2)]
    while stack:
        comment_id, siblings, depth = stack.pop()
        for child in children.get(comment_id, []):
            node = public_comment(child)
            node["replies"] = []
            siblings.append(node)
            if depth < MAX_DEPTH:
                stack.append((child.id, node["replies"], depth + 1))
            else:  # at the deepest level its replies join its own list
                stack.append((child.id, siblings, depth))
    for node in _walk(root):
        node["replies"].sort(key=lambda n: (n["created_at"], n["id"]))
    return root


def _walk(root: dict[str, Any]) -> list[dict[str, Any]]:
    nodes, stack = [], [root]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node["replies"])
    return nodes
