"""The moderator web page: sign in, the queue's tabs, search and pages, decisions on any
comment, the author panel. No build step.

Every action is a plain HTML form (POST with the CSRF token, then a 303 back to the page), so
the page works without JavaScript; ``moderate.js`` adds keyboard shortcuts and decides
through the JSON API without reloading.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response

from moderation.domain.errors import ModerationError, NotFoundError
from moderation.services import authors
from moderation.services import review_queue as rq
from moderation.services.moderators import authenticate
from moderation.storage.tables import DecisionRecord, Moderator
from moderation.web.auth import csrf, current_moderator, sign_in
from moderation.web.database import get_session
from moderation.web.extensions import commit_decision
from moderation.web.listing import page_details, queue_filter
from moderation.web.ratelimit import limiter

bp = Blueprint("moderate", __name__, url_prefix="/moderate")
log = logging.getLogger(__name__)


def highlight(text: str, spans: dict[str, list[dict[str, Any]]] | None) -> list[dict[str, Any]]:
    """Cut ``text`` into segments, marking the characters that raised a score.

    The template escapes every segment: user text never becomes markup.
    """
    marks: list[str | None] = [None] * len(text)
    weights = [0.0] * len(text)
    for head, contributions in (spans or {}).items():
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
                sign_in(moderator)
                return redirect(url_for("moderate.queue"), code=303)
    return render_template("login.html", error=error)


@bp.post("/logout")
def logout() -> Response:
    """Sign out."""
    csrf.protect()
    session.clear()
    return redirect(url_for("moderate.login"), code=303)


TABS = (
    (rq.Tab.PENDING, "Pending"),
    (rq.Tab.REPORTED, "Reported"),
    (rq.Tab.APPROVED, "Approved"),
    (rq.Tab.SPAM, "Spam"),
    (rq.Tab.REJECTED, "Refused"),
    (rq.Tab.ALL, "All"),
)
ACTIONS = (
    (rq.Action.APPROVE, "Approve", "a"),
    (rq.Action.REJECT_SPAM, "Spam", "s"),
    (rq.Action.REJECT_ABUSE, "Refuse as abuse", "r"),
    (rq.Action.HOLD, "Back to review", "h"),
)
_SEARCH_KEYS = ("q", "author", "email", "ip", "article", "reason")


@bp.get("")
def queue() -> Response | str:
    """A tab of the queue with search, counts and pages; every comment with its article,
    its author's history, its scores beside their thresholds, its reasons in plain words and
    its highlighted words, and forms to decide it."""
    moderator = current_moderator()
    if moderator is None:
        return redirect(url_for("moderate.login"), code=303)
    db = get_session()
    try:
        flt = queue_filter()
        cursor = request.args.get("cursor") or None
        listed = rq.list_comments(db, flt=flt, cursor=cursor, limit=_per_page())
    except ModerationError as exc:
        flash(_said(exc), "error")
        return redirect(url_for("moderate.queue"), code=303)
    items = page_details(db, listed.items)
    cards = [
        {**item, "segments": highlight(item["content"], item["explanation"])} for item in items
    ]
    search = {k: request.args.get(k, "") for k in _SEARCH_KEYS}
    return render_template(
        "queue.html",
        moderator=moderator,
        cards=cards,
        listed=listed,
        total=listed.counts.get("pending", 0),
        tab=flt.tab.value,
        tabs=TABS,
        actions=ACTIONS,
        sort=flt.sort,
        search=search,
        search_args={k: v for k, v in search.items() if v},
        searching=flt.searching,
        cursor=cursor,
        here=request.full_path.rstrip("?"),
        panel=_author_panel(db, flt),
        count_cap=rq.COUNT_CAP,
    )


def _per_page() -> int:
    raw = request.args.get("per_page", "")
    return max(1, min(int(raw), 200)) if raw.isdigit() else 50


def _author_panel(db: Any, flt: rq.QueueFilter) -> dict[str, Any] | None:
    """An author's counts and rules, when the list is narrowed to one email or address."""
    email = flt.email if flt.email and "@" in flt.email else None
    if email is None and flt.ip is None:
        return None
    rules = authors.rules_for(db, emails=[email] if email else [], ips=[flt.ip] if flt.ip else [])
    return {
        "email": email,
        "ip": flt.ip,
        "history": rq.author_histories(db, [email])[email] if email else None,
        "email_rule": rules.get(("email", email.lower())) if email else None,
        "ip_rule": rules.get(("ip", flt.ip)) if flt.ip else None,
    }


def _back() -> str:
    """Where a form returns to: a page of the queue (never elsewhere)."""
    target = request.form.get("next", "")
    if target.startswith("/moderate") and not target.startswith("//"):
        return target
    return url_for("moderate.queue")


def _form_moderator() -> Moderator | Response:
    """The signed-in moderator of a form post with a valid CSRF token, or where to go."""
    moderator = current_moderator()
    if moderator is None:
        return redirect(url_for("moderate.login"), code=303)
    try:
        csrf.protect()
    except CSRFError:
        flash("Your page was too old to act on; here it is again, please repeat.", "error")
        return redirect(_back(), code=303)
    return moderator


def _said(exc: ModerationError) -> str:
    """An error's message, with each invalid field's own message."""
    errors = getattr(exc, "errors", None)
    if errors:
        return " ".join(e["message"] for e in errors)
    return exc.message


def _comment_id(raw: int) -> int:
    if raw > 2**62:
        raise NotFoundError("No such comment.")
    return raw


@bp.post("/comments/<int:comment_id>/decide")
def decide_form(comment_id: int) -> Response:
    """A decision from the page's form (no JavaScript needed): then back to the page."""
    moderator = _form_moderator()
    if isinstance(moderator, Response):
        return moderator
    db = get_session()
    try:
        action = rq.Action(request.form.get("action", ""))
    except ValueError:
        flash("Choose approve, spam, refuse or back to review.", "error")
        return redirect(_back(), code=303)
    version_raw = request.form.get("version", "")
    return _apply(
        comment_id,
        lambda: rq.record_decision(
            db,
            comment_id=_comment_id(comment_id),
            moderator=moderator,
            action=action,
            reason=request.form.get("reason", "")[:500] or None,
            version=int(version_raw) if version_raw.isdigit() else None,
        ),
        done=lambda decision: f"Comment {comment_id}: {decision.status.value}.",
    )


@bp.post("/comments/<int:comment_id>/undo")
def undo_form(comment_id: int) -> Response:
    """Undo the latest standing moderator decision from the page's form."""
    moderator = _form_moderator()
    if isinstance(moderator, Response):
        return moderator
    db = get_session()
    raw = request.form.get("decision_id", "")
    return _apply(
        comment_id,
        lambda: rq.undo(
            db,
            comment_id=_comment_id(comment_id),
            moderator=moderator,
            decision_id=int(raw) if raw.isdigit() and len(raw) < 18 else None,
        ),
        done=lambda _decision: f"Comment {comment_id} is back in review.",
    )


def _apply(
    comment_id: int,
    change: Callable[[], DecisionRecord],
    *,
    done: Callable[[DecisionRecord], str],
) -> Response:
    """Make a form's change and commit it (:func:`commit_decision`), say how it went, and go
    back to the page (an error is said there too, and nothing is kept)."""
    db = get_session()
    try:
        decision = change()
        commit_decision(db, decision)
    except ModerationError as exc:
        db.rollback()
        flash(f"Comment {comment_id}: {_said(exc)}", "error")
        return redirect(_back(), code=303)
    flash(done(decision), "ok")
    return redirect(_back(), code=303)


@bp.post("/authors/rules")
def author_rule_form() -> Response:
    """Block or trust an author, or lift the rule, from the author panel."""
    moderator = _form_moderator()
    if isinstance(moderator, Response):
        return moderator
    db = get_session()
    kind = request.form.get("kind", "")
    action = request.form.get("action", "")
    value = request.form.get("value", "")[:100]
    try:
        if kind not in ("email", "ip") or action not in ("block", "trust", "clear"):
            flash("Choose block, trust or lift, on an email or an address.", "error")
            return redirect(_back(), code=303)
        if action == "clear":
            authors.clear_rule(db, kind=kind, value=value)  # type: ignore[arg-type]
            message = f"No rule on {value} any more."
        else:
            authors.set_rule(
                db,
                kind=kind,  # type: ignore[arg-type]
                value=value,
                action=action,  # type: ignore[arg-type]
                moderator=moderator,
                reason=request.form.get("reason", ""),
            )
            message = f"{value}: {'blocked' if action == 'block' else 'trusted'}."
        db.commit()
    except ModerationError as exc:
        db.rollback()
        flash(_said(exc), "error")
        return redirect(_back(), code=303)
    flash(message, "ok")
    return redirect(_back(), code=303)
