"""An example article page: published comments and a "Leave a reply" form.

It is what a site's own article template would do: list the approved comments from
``GET /articles/<id>/comments`` (here read directly) and post the form to ``POST /comments``.
It works as a plain HTML form; ``demo.js`` enhances it with ``fetch`` and inline errors.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from werkzeug.wrappers import Response

from moderation.db import get_session
from moderation.errors import NotFoundError
from moderation.services.publishing import article_comments
from moderation.tables import Comment
from moderation.web.comments import FORM_TOKEN_FIELD, _author_may_see, new_form_token

bp = Blueprint("demo", __name__, url_prefix="/demo")

ARTICLE_ID = "demo-article"
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


@bp.get("/article")
def article() -> Response | str:
    """The article, its published comments, and the reply form."""
    page = article_comments(
        get_session(), article_id=ARTICLE_ID, order="oldest", page=1, per_page=200
    )
    pending = None
    unapproved = request.args.get("unapproved", "")
    if unapproved.isdigit() and len(unapproved) < 18:
        comment = get_session().get(Comment, int(unapproved))
        token = request.args.get("moderation-hash")
        if comment is not None and _author_may_see(comment.id, token):
            pending = comment
    return render_template(
        "demo_article.html",
        article=ARTICLE,
        article_id=ARTICLE_ID,
        comments=page.comments,
        total=page.total,
        pending=pending,
        form_token=new_form_token(),
        form_token_field=FORM_TOKEN_FIELD,
        honeypot_field=current_app.config["HONEYPOT_FIELD"],
    )
