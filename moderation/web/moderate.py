"""The moderator web page: sign in, the queue, keyboard decisions. No build step."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response

from moderation.db import get_session
from moderation.ratelimit import limiter
from moderation.services import review_queue as rq
from moderation.services.moderators import authenticate
from moderation.tables import Comment
from moderation.web.api import explanation
from moderation.web.auth import SESSION_KEY, csrf, current_moderator

bp = Blueprint("moderate", __name__, url_prefix="/moderate")
log = logging.getLogger(__name__)


def highlight(text: str, spans: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Cut ``text`` into segments, marking the characters that raised a score.

    The template escapes every segment: user text never becomes markup.
    """
    marks: list[str | None] = [None] * len(text)
    weights = [0.0] * len(text)
    for head, contributions in spans.items():
        for c in contributions:
            for start, end in c["spans"]:
                for i in range(max(0, start), min(end, len(text))):
                    if c["weight"] > weights[i]:
                        marks[i], weights[i] = head, c["weight"]
    segments: list[dict[str, Any]] = []
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or marks[i] != marks[start]:
            segments.append({"text": text[start:i], "head": marks[start]})
            start = i
    return segments


def _account() -> str:
    """The account a sign-in is for (the limiter's key per account)."""
    return "login:" + request.form.get("name", "").strip().lower()[:100]


def _login_limit(key: str) -> Callable[[], str]:
    return lambda: str(current_app.config[key])


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit("LOGIN_RATE_LIMIT_ADDRESS"), methods=["POST"])
@limiter.limit(_login_limit("LOGIN_RATE_LIMIT_ACCOUNT"), methods=["POST"], key_func=_account)
def login() -> Response | str:
    """Sign in with name and password (CSRF-protected form).

    Throttled per address and per account, each over a minute, an hour and a day, so that the
    pause after repeated failures grows; every failed attempt is logged.
    """
    error = None
    if request.method == "POST":
        try:
            csrf.protect()
        except CSRFError:
            error = "Your sign-in form expired. Please try again."
        else:
            moderator = authenticate(
                get_session(),
                name=request.form.get("name", ""),
                password=request.form.get("password", ""),
            )
            if moderator is None:
                error = "Wrong name or password."
                log.warning(
                    "failed sign-in for account %r from %s",
                    request.form.get("name", "")[:100],
                    request.remote_addr,
                )
            else:
                session.clear()
                session[SESSION_KEY] = moderator.id
                return redirect(url_for("moderate.queue"), code=303)
    return render_template("login.html", error=error)


@bp.post("/logout")
def logout() -> Response:
    """Sign out."""
    csrf.protect()
    session.clear()
    return redirect(url_for("moderate.login"), code=303)


@bp.get("")
def queue() -> Response | str:
    """The queue, most uncertain first, with everything needed to decide."""
    moderator = current_moderator()
    if moderator is None:
        return redirect(url_for("moderate.login"), code=303)
    by_age = request.args.get("sort") == "age"
    db = get_session()
    total, items = rq.list_pending(
        db,
        flt=rq.QueueFilter(
            article_id=request.args.get("article") or None, sort="age" if by_age else "priority"
        ),
        page=1,
        per_page=50,
    )
    cards = [_card(db, c) for c in items]
    return render_template(
        "queue.html",
        moderator=moderator,
        cards=cards,
        total=total,
        sort="age" if by_age else "priority",
    )


def _card(db: Any, comment: Comment) -> dict[str, Any]:
    spans = explanation(comment)
    latest = comment.decisions[-1] if comment.decisions else None
    return {
        "comment": comment,
        "segments": highlight(comment.content, spans),
        "explanation": spans,
        "reasons": latest.reasons if latest is not None else [],
        "history": rq.author_history(db, comment.email),
    }
