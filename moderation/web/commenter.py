"""The commenter's side that the comment form, the demo article and reader reports share:
reading a posted body, signed form tokens, the token that lets an author see their held
comment, the "save my name" cookies, and where a form post may be sent back to."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

from moderation.domain.errors import BadRequestError, UnsupportedMediaTypeError

FORM_TOKEN_FIELD = "form_token"  # noqa: S105 - a field name
_MAX_FORM_FIELDS = 50


def _body_text() -> str:
    raw = request.get_data(cache=True)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequestError("The request body is not valid UTF-8.", field=None) from None


def read_payload() -> tuple[dict[str, Any], bool]:
    """The posted fields and whether they came as JSON (an object), or a form; each malformed
    body (bad UTF-8, bad JSON, too many fields, another media type) is a 4xx with a message."""
    mimetype = request.mimetype
    if mimetype == "application/json" or mimetype.endswith("+json"):
        text = _body_text()
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadRequestError(
                f"The body is not valid JSON: {exc.msg} (character {exc.pos})."
            ) from None
        except ValueError:  # integers beyond Python's digit limit
            raise BadRequestError(
                "The body is not valid JSON: a number has too many digits."
            ) from None
        except RecursionError:
            raise BadRequestError("The body is not valid JSON: it is nested too deeply.") from None
        if not isinstance(data, dict):
            raise BadRequestError("The JSON body must be an object.")
        return data, True
    if mimetype == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(
                _body_text(),
                keep_blank_values=True,
                encoding="utf-8",
                errors="strict",
                max_num_fields=_MAX_FORM_FIELDS,
            )
        except UnicodeDecodeError:
            raise BadRequestError("The form data is not valid UTF-8.") from None
        except ValueError:
            raise BadRequestError("The form has too many fields.") from None
        fields: dict[str, Any] = {}
        for key, value in pairs:
            fields.setdefault(key, value)
        return fields, False
    if mimetype == "multipart/form-data":
        _body_text()  # the form's text must be UTF-8 (Werkzeug would replace bad bytes)
        return {key: request.form.get(key) for key in request.form}, False
    raise UnsupportedMediaTypeError()


def _author_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="author-view")


def form_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="form-token")


def author_token(comment_id: int) -> str:
    """A token that lets the author see their own comment before it is published."""
    return _author_signer().dumps(comment_id)


def author_may_see(comment_id: int, token: str | None) -> bool:
    if not token:
        return False
    try:
        return bool(_author_signer().loads(token) == comment_id)
    except BadSignature:
        return False


def new_form_token() -> str:
    """A signed timestamp (and a nonce, so each page's token is its own) for the form.

    A post sooner than MIN_FILL_SECONDS is a bot; each token posts one comment.
    """
    return form_signer().dumps([int(time.time()), secrets.token_hex(8)])


def redirect_target(redirect_to: str) -> str | None:
    """``redirect_to`` when it is a path on this site or on an allowed origin."""
    if not redirect_to:
        return None
    try:
        parts = urlsplit(redirect_to)
    except ValueError:
        return None
    if not parts.scheme and not parts.netloc:
        # A path on this host only: browsers read "/\\evil.example" (and a tab or newline
        # inside) as "//evil.example", another host.
        local = redirect_to.startswith("/") and not redirect_to.startswith("//")
        return redirect_to if local and not any(c in redirect_to for c in "\\\t\r\n") else None
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    return redirect_to if origin in current_app.config["SITE_ORIGINS"] else None


def safe_referrer() -> str | None:
    """The page the form was on, for a "back" link (http or https only)."""
    referrer = request.referrer or ""
    return referrer if referrer.startswith(("https://", "http://")) else None


def with_params(url: str, params: dict[str, str], fragment: str) -> str:
    parts = urlsplit(url)
    query = (
        parts.query + ("&" if parts.query else "") + urlencode(params) if params else parts.query
    )
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, fragment))


# WordPress's comment_author cookies: the form is filled in again on the reader's next visit,
# without JavaScript. Set only when the reader ticks the box, removed when they do not; they
# hold what the reader typed into the form, for the site's pages (the demo article) to read.
SAVED_AUTHOR_COOKIES = {
    "author": "comment_author",
    "email": "comment_author_email",
    "url": "comment_author_url",
}


def saved_author() -> dict[str, str]:
    """What the reader chose to keep ("save my name"), read from their cookies."""
    limits = {"author": 245, "email": 100, "url": 200}
    saved = {}
    for field, cookie in SAVED_AUTHOR_COOKIES.items():
        value = request.cookies.get(cookie)
        if value:
            saved[field] = unquote(value)[: limits[field]]
    return saved
