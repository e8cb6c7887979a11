"""The public surface: the reply form's endpoint, a comment's status, an article's comments."""

from __future__ import annotations

import hashlib
import time
from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer
from pydantic import ValidationError
from werkzeug.wrappers import Response

from moderation.domain.errors import (
    ModerationError,
    NotFoundError,
    UnauthorizedError,
    ValidationFailedError,
)
from moderation.domain.policy import Status
from moderation.domain.rules import public_status
from moderation.schemas import KNOWN_FIELDS, CommentIn, errors_from
from moderation.services.intake import (
    IntakeResult,
    RequestMeta,
    prepare_comment,
    settings_from_config,
    store_comment,
)
from moderation.services.publishing import article_comments, public_comment
from moderation.services.scoring import scores_json
from moderation.services.sitekeys import find_site_key
from moderation.storage.db import begin_reading, begin_writing
from moderation.storage.tables import Comment, SiteKey
from moderation.web import deadline, metrics
from moderation.web.commenter import (
    FORM_TOKEN_FIELD,
    SAVED_AUTHOR_COOKIES,
    author_may_see,
    author_token,
    form_signer,
    new_form_token,
    read_payload,
    redirect_target,
    safe_referrer,
    with_params,
)
from moderation.web.database import get_session
from moderation.web.errors import wants_html
from moderation.web.extensions import get_scorer, webhooks_enabled
from moderation.web.query import int_arg
from moderation.web.ratelimit import limit_intake_by_address, limit_intake_by_site
from moderation.web.security import bearer_token

bp = Blueprint("comments", __name__)

MESSAGES = {
    Status.APPROVED: "Your comment has been published.",
    Status.PENDING: "Your comment is awaiting moderation.",
    Status.REJECTED: "Your comment was not published because it does not follow our community "
    "guidelines. Please keep the discussion respectful.",
}


# --------------------------------------------------------------------------- tokens


@bp.app_context_processor
def _form_token_helpers() -> dict[str, Any]:
    # A callable, not a token: only the pages that show the reply form again sign one.
    return {"new_form_token": new_form_token, "form_token_field": FORM_TOKEN_FIELD}


def _form_token_signal(token: str | None, *, required: bool) -> tuple[str | None, str | None]:
    """(the token check, the digest of a valid token): ``missing`` when it should be there."""
    if token is None or token == "":
        return ("missing" if required else None), None
    try:
        issued = form_signer().loads(token, max_age=current_app.config["FORM_TOKEN_MAX_AGE"])
    except SignatureExpired:
        return "expired", None  # an old page: a slow human, or a token kept for replaying
    except BadSignature:
        return "invalid", None
    if isinstance(issued, list) and issued:
        issued = issued[0]
    if not isinstance(issued, int):
        return "invalid", None
    if time.time() - issued < current_app.config["MIN_FILL_SECONDS"]:
        return "too_fast", None
    return "ok", hashlib.sha256(token.encode()).hexdigest()


# --------------------------------------------------------------------------- author cookie

AUTHOR_COOKIE = "moderation_author"


def _author_cookie_value(email: str) -> str:
    digest = hashlib.sha256(email.lower().encode()).hexdigest()
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="author-cookie").dumps(digest)


def _has_author_cookie(email: str) -> bool:
    """The browser posted before with this email (a cookie only this service can sign)."""
    value = request.cookies.get(AUTHOR_COOKIE)
    if not value:
        return False
    try:
        digest = URLSafeSerializer(current_app.config["SECRET_KEY"], salt="author-cookie").loads(
            value
        )
    except BadSignature:
        return False
    return bool(digest == hashlib.sha256(email.lower().encode()).hexdigest())


# --------------------------------------------------------------------------- parsing


def _site_client() -> SiteKey | None:
    if not request.headers.get("Authorization"):
        return None
    key = bearer_token()
    if key is None:
        raise UnauthorizedError("Use 'Authorization: Bearer <site key>'.")
    site = find_site_key(get_session(), key)
    if site is None:
        raise UnauthorizedError("This API key is not valid.")
    return site


def _unknown_fields(data: dict[str, Any]) -> list[dict[str, str]]:
    allowed = KNOWN_FIELDS | {FORM_TOKEN_FIELD, current_app.config["HONEYPOT_FIELD"]}
    return [
        {"field": str(key)[:100], "code": "unknown_field", "message": "This field is not accepted."}
        for key in data
        if key not in allowed
    ]


def _client_ip(site: SiteKey | None, data: CommentIn) -> str:
    # A site backend forwarding the comment tells us the commenter's address.
    if site is not None and data.user_ip:
        return data.user_ip
    return request.remote_addr or ""


# --------------------------------------------------------------------------- answers


def _accepted(result: IntakeResult, site: SiteKey | None, data: CommentIn) -> Response:
    comment = result.comment
    shown = public_status(comment.status)
    body: dict[str, Any] = {
        "id": comment.id,
        "status": shown.value,
        "message": MESSAGES[shown],
        "links": {"self": f"/comments/{comment.id}"},
    }
    if shown is Status.PENDING:
        body["author_token"] = author_token(comment.id)
    if site is not None:
        body["status"] = comment.status.value
        body["scores"] = scores_json(result.scores) if result.scores is not None else None
        body["reasons"] = [r.as_dict() for r in result.decision.reasons]
        body["model_version"] = result.model_version
    if not wants_html():
        response = jsonify(body)
        response.status_code = 201
        response.headers["Location"] = f"/comments/{comment.id}"
        return response
    # Back to the article for a published or held comment; a refusal gets its message here,
    # with the text in the form to edit and send again.
    target = redirect_target(data.redirect_to)
    if shown is Status.REJECTED:
        return Response(
            render_template(
                "accepted.html",
                body=body,
                comment=comment,
                status=shown,
                values=_form_values(data),
                back=target or safe_referrer(),
                form_token=new_form_token(),  # the refused comment spent the page's token
            ),
            status=201,
            mimetype="text/html",
        )
    if target is not None:
        params = (
            {"unapproved": str(comment.id), "moderation-hash": body["author_token"]}
            if shown is Status.PENDING
            else {}
        )
        fragment = f"comment-{comment.id}" if shown is Status.APPROVED else "respond"
        return redirect(with_params(target, params, fragment), code=303)
    return Response(
        render_template(
            "accepted.html",
            body=body,
            comment=comment,
            status=shown,
            back=safe_referrer(),
        ),
        status=201,
        mimetype="text/html",
    )


def _form_values(data: CommentIn) -> dict[str, str]:
    """The reply form's fields as posted (WordPress's names), to fill the form again."""
    return {
        "comment": data.content,
        "author": data.author,
        "email": data.email,
        "url": data.url,
        "comment_post_ID": data.article_id,
        "comment_parent": str(data.parent_id or 0),
        "redirect_to": data.redirect_to,
        "wp-comment-cookies-consent": "yes" if data.cookies_consent else "",
    }


# --------------------------------------------------------------------------- "save my name"

SAVED_AUTHOR_SECONDS = 30_000_000  # WordPress's comment_cookie_lifetime (347 days)


def _remember_author(response: Response, data: CommentIn) -> None:
    secure = bool(current_app.config["SESSION_COOKIE_SECURE"])
    if data.cookies_consent:
        for field, cookie in SAVED_AUTHOR_COOKIES.items():
            value = getattr(data, field)
            if value:
                response.set_cookie(
                    cookie,
                    quote(value, safe="@"),
                    max_age=SAVED_AUTHOR_SECONDS,
                    secure=secure,
                    httponly=True,  # only the server reads them back
                    samesite="Lax",
                )
            elif cookie in request.cookies:
                response.delete_cookie(cookie, secure=secure, httponly=True, samesite="Lax")
        return
    # Unticked: forget what was kept before (only the cookies this browser actually has).
    for cookie in SAVED_AUTHOR_COOKIES.values():
        if cookie in request.cookies:
            response.delete_cookie(cookie, secure=secure, httponly=True, samesite="Lax")


@bp.post("/comments")
@limit_intake_by_address
@limit_intake_by_site
def post_comment() -> Response:
    """The reply form's ``action``: validate, decide, store, answer."""
    data, is_json = read_payload()
    site = _site_client()
    errors = _unknown_fields(data) if is_json else []
    try:
        comment_in = CommentIn.model_validate(data)
    except ValidationError as exc:
        errors = errors_from(exc) + errors
        comment_in = None
    if errors or comment_in is None:
        raise ValidationFailedError(errors, values=data)

    honeypot = str(data.get(current_app.config["HONEYPOT_FIELD"]) or "").strip() != ""
    token = data.get(FORM_TOKEN_FIELD)
    # Browsers post the form with its token; a site backend speaks for its own form.
    form_check, form_token = (
        (None, None)
        if site is not None
        else _form_token_signal(
            token if token is None or isinstance(token, str) else "not a string",
            required=bool(current_app.config["REQUIRE_FORM_TOKEN"]),
        )
    )
    meta = RequestMeta(
        ip=_client_ip(site, comment_in),
        user_agent=(comment_in.user_agent if site and comment_in.user_agent else None)
        or request.headers.get("User-Agent", ""),
        referrer=(comment_in.referrer if site and comment_in.referrer else None)
        or request.headers.get("Referer", ""),
        honeypot=honeypot,
        form_check=form_check,
        form_token=form_token,
        continuity=comment_in.verified_author
        if site is not None
        else _has_author_cookie(comment_in.email),
    )
    session = get_session()
    settings = settings_from_config(current_app.config)
    try:
        # Read, score and decide in a read transaction; then take the write lock only for
        # the inserts (SQLite lets one writer in at a time).
        session.rollback()  # end the site-key lookup's transaction, if there was one
        begin_reading(session)
        prepared = prepare_comment(
            session, get_scorer(), data=comment_in, meta=meta, settings=settings
        )
        begin_writing(session)
        # The outbox's event is written in the same transaction as the comment.
        result = store_comment(session, prepared, settings=settings, outbox=webhooks_enabled())
        session.commit()
    except ModerationError as exc:
        session.rollback()
        if not is_json:  # a form post's page shows the form again with what was typed
            exc.values = data
        raise
    except Exception:
        session.rollback()
        raise
    deadline.disarm()  # stored: the answer must say so, however long the rest takes
    # The comment is stored: from here on nothing may turn the answer into an error.
    try:
        metrics.count(
            result.decision.status, [r.code for r in result.decision.reasons], actor="system"
        )
        current_app.logger.info(
            "comment %s on %s: %s (%s)",
            result.comment.id,
            comment_in.article_id,
            result.comment.status.value,
            ",".join(r.code for r in result.decision.reasons),
        )
    except Exception:
        current_app.logger.warning("comment %s stored; counting it failed", result.comment.id)
    response = _accepted(result, site, comment_in)
    if site is None:  # the browser that wrote this may later prove it is the same author
        response.set_cookie(
            AUTHOR_COOKIE,
            _author_cookie_value(comment_in.email),
            max_age=365 * 24 * 3600,
            httponly=True,
            secure=bool(current_app.config["SESSION_COOKIE_SECURE"]),
            samesite="Lax",
        )
        _remember_author(response, comment_in)
    return response


@bp.get("/comments/form-token")
def form_token() -> Response:
    """A fresh form token and the names of the bot-trap fields, for the site's form."""
    response = jsonify(
        {
            "field": FORM_TOKEN_FIELD,
            "token": new_form_token(),
            "honeypot_field": current_app.config["HONEYPOT_FIELD"],
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/comments/<int:comment_id>")
def get_comment(comment_id: int) -> Response:
    """A comment's public status; its text once published, or for its author with the token."""
    if comment_id > 2**62:
        raise NotFoundError("No such comment.")
    comment = get_session().get(Comment, comment_id)
    if comment is None:
        raise NotFoundError("No such comment.")
    shown = public_status(comment.status)
    body: dict[str, Any] = {
        "id": comment.id,
        "article_id": comment.article_id,
        "status": shown.value,
        "message": MESSAGES[shown],
    }
    token = request.args.get("token") or request.args.get("moderation-hash")
    if shown is Status.APPROVED or (shown is Status.PENDING and author_may_see(comment.id, token)):
        body.update(public_comment(comment))
        body["status"] = shown.value
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/articles/<path:article_id>/comments")
def list_article_comments(article_id: str) -> Response:
    """An article's approved comments, threaded, paginated in SQL, with an ETag.

    ``page`` counts pages of top-level comments (each with its thread); ``after`` (the ``next``
    link) continues after a top-level comment without counting the pages before it.
    """
    if len(article_id) > 100:
        raise NotFoundError("No such article.")
    order = request.args.get("order", "oldest")
    if order not in ("oldest", "newest"):
        raise ValidationFailedError(
            [{"field": "order", "code": "invalid_order", "message": "order is oldest or newest."}]
        )
    config = current_app.config
    per_page = int_arg("per_page", config["PER_PAGE_DEFAULT"], 1, config["PER_PAGE_MAX"])
    page = int_arg("page", 1, 1, 1_000_000)
    after = int_arg("after", 0, 0, 2**62) or None
    result = article_comments(
        get_session(),
        article_id=article_id,
        order="newest" if order == "newest" else "oldest",
        page=page,
        per_page=per_page,
        after=after,
    )
    pages = max(1, -(-result.total // per_page))
    next_link = None
    if result.next_after is not None:
        next_link = url_for(
            "comments.list_article_comments",
            article_id=article_id,
            order=order,
            per_page=per_page,
            after=result.next_after,
        )
    response = jsonify(
        {
            "article_id": article_id,
            "order": order,
            "page": page,
            "per_page": per_page,
            "total": result.total,
            "pages": pages,
            "comment_count": result.comment_count,
            "next": next_link,
            "replies_truncated": result.replies_truncated,
            "comments": result.comments,
        }
    )
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    return response.make_conditional(request)
