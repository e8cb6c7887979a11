"""An example article page: published comments and a "Leave a reply" form.

It is what a site's own article template would do: list the approved comments from
``GET /articles/<id>/comments`` (here read directly) and post the form to ``POST /comments``.
It works as a plain HTML form; ``demo.js`` enhances it with ``fetch`` and inline errors.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, render_template, request
from werkzeug.wrappers import Response

from moderation.domain.errors import NotFoundError
from moderation.domain.policy import Status
from moderation.domain.rules import public_status
from moderation.services.publishing import MAX_DEPTH, article_comments
from moderation.storage.tables import Comment
from moderation.web.commenter import (
    FORM_TOKEN_FIELD,
    author_may_see,
    new_form_token,
    saved_author,
)
from moderation.web.database import get_session
from moderation.web.links import DEMO_ARTICLE_ID

bp = Blueprint("demo", __name__, url_prefix="/demo")

ARTICLE = {
    "title": "Council votes to close two branch libraries",
    "byline": "By our local democracy reporter",
    "paragraphs": [
        "The city council voted 27 to 21 on Tuesday night to close the Eastfield and Marsh Lane "
        "branch libraries in March, saving an estimated £410,000 a year.",
        "Campaigners said the closures would hit older residents and families without "
        "internet at home hardest. The council leader said the savings were needed to protect "
        "adult social care, and promised a mobile library service for both areas.",
        "A petition against the closures gathered more than 6,000 signatures. The decision can "
        "still be called in for review by the scrutiny committee within ten days.",
    ],
}


@bp.before_request
def _enabled() -> None:
    """The example page exists only where it is switched on (MODERATION_DEMO_PAGE)."""
    if not current_app.config["DEMO_PAGE"]:
        raise NotFoundError("Not found.")


@bp.app_template_filter("comment_time")
def comment_time(iso: str) -> str:
    """A comment's time as the page shows it: "30 November 2026 at 14:05 UTC"."""
    when = datetime.fromisoformat(iso).astimezone(UTC)
    return f"{when.day} {when:%B %Y} at {when:%H:%M} UTC"


def _ids(comments: list[dict[str, Any]]) -> set[int]:
    found, stack = set(), list(comments)
    while stack:
        node = stack.pop()
        found.add(node["id"])
        stack.extend(node["replies"])
    return found


@bp.get("/article")
def article() -> Response | str:
    """The article, its published comments, and the reply form.

    As WordPress's comment template: a reply link on each comment (``?replytocom=<id>``
    without JavaScript), the author's own held comment shown where it will appear, and the
    name, email and website the reader chose to keep filled in from their cookies.
    """
    session = get_session()
    page = article_comments(
        session, article_id=DEMO_ARTICLE_ID, order="oldest", page=1, per_page=200
    )
    shown = _ids(page.comments)
    pending = None
    unapproved = request.args.get("unapproved", "")
    if unapproved.isdigit() and len(unapproved) < 18:
        comment = session.get(Comment, int(unapproved))
        token = request.args.get("moderation-hash")
        if (
            comment is not None
            and comment.article_id == DEMO_ARTICLE_ID
            and public_status(comment.status) is Status.PENDING
            and author_may_see(comment.id, token)
        ):
            pending = comment
    reply_to = None
    replytocom = request.args.get("replytocom", "")
    if replytocom.isdigit() and len(replytocom) < 18 and int(replytocom) in shown:
        reply_to = session.get(Comment, int(replytocom))
    saved = saved_author()
    return render_template(
        "demo_article.html",
        article=ARTICLE,
        article_id=DEMO_ARTICLE_ID,
        comments=page.comments,
        total=page.comment_count,
        max_depth=MAX_DEPTH,
        pending=pending,
        # a held reply sits under its parent when the parent is on the page, else at the end
        pending_parent=pending.parent_id if pending and pending.parent_id in shown else None,
        reply_to=reply_to,
        saved=saved,
        form_token=new_form_token(),
        form_token_field=FORM_TOKEN_FIELD,
        honeypot_field=current_app.config["HONEYPOT_FIELD"],
    )
