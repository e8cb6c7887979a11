"""Akismet compatibility API: Akismet's REST wire protocol, answered by this service's model.

An Akismet client or plugin switches to this service by changing the API host and using a
site key as its Akismet API key. The endpoints, answers and what is stored:
docs/akismet.md.
"""

from __future__ import annotations

import codecs
import json
import logging
import re
from collections.abc import Mapping
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from moderation.domain.policy import Status
from moderation.ml.features import CommentInput
from moderation.services.feedback import feedback_counts, record_label
from moderation.services.intake import author_rules, judge, settings_from_config
from moderation.services.sitekeys import find_site_key
from moderation.storage.db import begin_reading, utcnow
from moderation.storage.tables import SiteKey
from moderation.web.database import get_session
from moderation.web.extensions import get_scorer

bp = Blueprint("akismet", __name__)
log = logging.getLogger(__name__)

SUBMITTED = "Thanks for making the web a better place."
# Akismet's documented test values: this author or email is always spam.
GUARANTEED_SPAM_AUTHOR = "akismet-guaranteed-spam"
GUARANTEED_SPAM_EMAIL = "akismet-guaranteed-spam@example.com"
# How long a client should wait before checking again when no model is loaded.
RETRY_AFTER_SECONDS = 60

_FORM = "application/x-www-form-urlencoded"
# WordPress's plugin adds the request's server variables to each call: allow plenty.
_MAX_FIELDS = 1000
_TRUE = frozenset({"1", "true", "yes", "on"})
_KEY_LABEL_RE = re.compile(r"[A-Za-z0-9_-]{12,64}")
# Honeypot fields the WordPress Akismet plugin adds to its comment form and forwards with a
# POST_ prefix (it sends no honeypot_field_name).
_PLUGIN_HONEYPOTS = ("POST_ak_hp_textarea",)
# Codecs that Python can look up but that are not character sets a site would use.
_NOT_CHARSETS = frozenset({"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined"})
# The fields this API reads; a honeypot field may not be one of them (a misconfigured client
# naming, say, comment_content would otherwise have every comment discarded).
_KNOWN_FIELDS = frozenset(
    {
        "api_key",
        "key",
        "blog",
        "user_ip",
        "user_agent",
        "referrer",
        "permalink",
        "comment_type",
        "comment_author",
        "comment_author_email",
        "comment_author_url",
        "comment_content",
        "comment_context",
        "comment_date_gmt",
        "comment_post_modified_gmt",
        "blog_lang",
        "blog_charset",
        "user_role",
        "is_test",
        "recheck_reason",
        "honeypot_field_name",
    }
)
# The stored fields: PostgreSQL text cannot hold NUL.
_STORED_FIELDS = ("comment_content", "comment_author", "comment_author_email", "comment_author_url")

Fields = Mapping[str, str]


class AkismetRefusal(Exception):
    """A request answered with an Akismet-style refusal: a plain-text body and debug headers."""

    def __init__(
        self,
        body: str,
        *,
        debug_help: str,
        status: int = 200,
        error: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(debug_help)
        self.body = body
        self.status = status
        self.headers = {"X-akismet-debug-help": debug_help, **(headers or {})}
        if error:
            self.headers["X-akismet-error"] = debug_help


def _invalid(debug_help: str) -> AkismetRefusal:
    """Akismet's answer to a bad key or site URL: 200 ``invalid``."""
    return AkismetRefusal("invalid", debug_help=debug_help, error=False)


def _bad_request(message: str, status: int = 400) -> AkismetRefusal:
    return AkismetRefusal(message, debug_help=message, status=status)


@bp.errorhandler(AkismetRefusal)
def _refused(refusal: AkismetRefusal) -> Response:
    return _text(refusal.body, status=refusal.status, headers=refusal.headers)


def _text(body: str, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    response = Response(body, status=status, mimetype="text/plain")
    response.headers.update(headers or {})
    response.headers["Cache-Control"] = "no-store"
    return response


# --------------------------------------------------------------------------- reading


def _codec(name: str) -> str:
    """The codec for ``blog_charset``; UTF-8 when it is missing or not a character set."""
    if len(name) > 64:
        return "utf-8"
    try:
        info = codecs.lookup(name.strip())
    except (LookupError, ValueError):
        return "utf-8"
    if info.name in _NOT_CHARSETS or not getattr(info, "_is_text_encoding", False):
        return "utf-8"
    return info.name


def _read_fields() -> dict[str, str]:
    """The request's fields (the query string of a GET, else the form-encoded body).

    Values are decoded with ``blog_charset`` (UTF-8 by default); the first of repeated
    fields counts.
    """
    if request.method == "GET":
        raw = request.query_string
    else:
        if request.mimetype != _FORM:
            raise _bad_request(f"Send the fields form-encoded ({_FORM}).", status=415)
        try:
            raw = request.get_data(cache=True)
        except RequestEntityTooLarge:
            limit = current_app.config["MAX_CONTENT_LENGTH"]
            raise _bad_request(
                f"The request body is larger than {limit} bytes.", status=413
            ) from None
    try:
        # Latin-1 keeps every byte (percent-decoded or raw) as one character, so the
        # values can be decoded with the site's charset afterwards.
        pairs = parse_qsl(
            raw.decode("latin-1"),
            keep_blank_values=True,
            encoding="latin-1",
            errors="strict",
            max_num_fields=_MAX_FIELDS,
        )
    except ValueError:
        raise _bad_request(f"The request has more than {_MAX_FIELDS} fields.") from None
    charset = next((_codec(value) for name, value in pairs if name == "blog_charset"), "utf-8")
    fields: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        try:
            name = raw_name.encode("latin-1").decode(charset)
            value = raw_value.encode("latin-1").decode(charset)
            # A lone surrogate (from an escape codec) cannot be stored or scored.
            name.encode("utf-8")
            value.encode("utf-8")
        except Exception:  # any codec's failure is the client's bad text
            raise _bad_request(
                f"The form data is not valid {charset} text (see blog_charset)."
            ) from None
        fields.setdefault(name, value)
    return fields


def _get(fields: Fields, name: str) -> str:
    return fields.get(name, "")


def _check_stored_fields(fields: Fields) -> None:
    for name in _STORED_FIELDS:
        if "\x00" in _get(fields, name):
            raise _bad_request(f"{name} contains a NUL character.")
    limit = int(current_app.config["MAX_COMMENT_BYTES"])
    if len(_get(fields, "comment_content").encode("utf-8")) > limit:
        raise _bad_request(f"comment_content is longer than {limit} bytes.", status=413)


def _valid_blog(blog: str) -> bool:
    try:
        parts = urlsplit(blog)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _host_key() -> str:
    """The key as the host's first label (``KEY.rest.akismet.com``), as ``akismet-api`` sends it.

    Only a label that can be a key (12 or more letters and digits) counts: a plain host name
    such as ``moderation.example`` is not a key.
    """
    host = request.host.split(":", 1)[0]
    label = host.split(".", 1)[0] if host.count(".") >= 1 else ""
    return label if _KEY_LABEL_RE.fullmatch(label) else ""


def _site(session: Session, fields: Fields) -> SiteKey:
    """The site whose key the request carries: ``key`` (verify-key and get-subscription send
    the key being checked there; the WordPress plugin adds its saved key as ``api_key`` to
    every call, also when checking a new one), else ``api_key``, else the host's first label.

    :raises AkismetRefusal: ``invalid``, with the reason in ``X-akismet-debug-help``.
    """
    key = (_get(fields, "key") or _get(fields, "api_key")).strip() or _host_key()
    if not key:
        raise _invalid('Empty "api_key" value: send a site key of this service.')
    site = find_site_key(session, key)
    if site is None:
        raise _invalid(
            "Invalid key: it is not a site key of this service, or it has been revoked "
            "(`moderation site-key create NAME` prints one)."
        )
    return site


def _check_blog(fields: Fields, *, required: bool) -> None:
    blog = _get(fields, "blog").strip()
    if not blog:
        if required:
            raise AkismetRefusal(
                "Missing required field: blog.",
                debug_help="Missing required field: blog (the site's URL).",
            )
        raise _invalid('Empty "blog" value: send the site\'s URL.')
    if not _valid_blog(blog):
        raise _invalid("We were unable to parse your blog URI: send a full http(s) URL.")


def _comment_request(fields: Fields, session: Session) -> SiteKey:
    """The site of a comment-check or submit call, with the required fields checked."""
    site = _site(session, fields)
    _check_blog(fields, required=True)
    if not _get(fields, "user_ip").strip():
        raise AkismetRefusal(
            "Missing required field: user_ip.",
            debug_help="Missing required field: user_ip (the commenter's IP address).",
        )
    _check_stored_fields(fields)
    return site


def _read_only_session() -> Session:
    """The request's session, reading in a transaction that never takes SQLite's write lock."""
    session = get_session()
    if request.method != "GET":  # GET sessions already read DEFERRED
        begin_reading(session)
    return session


def _truthy(value: str) -> bool:
    return value.strip().lower() in _TRUE


# --------------------------------------------------------------------------- deciding


def _honeypot(fields: Fields) -> bool:
    if any(_get(fields, name).strip() for name in _PLUGIN_HONEYPOTS):
        return True
    name = _get(fields, "honeypot_field_name").strip()
    if not name or name in _KNOWN_FIELDS:
        return False
    return _get(fields, name).strip() != "" or _get(fields, f"POST_{name}").strip() != ""


# --------------------------------------------------------------------------- endpoints


@bp.post("/1.1/verify-key")
def verify_key() -> Response:
    """``valid`` for an active site key with an ``http(s)`` site URL, else ``invalid``."""
    fields = _read_fields()
    site = _site(_read_only_session(), fields)
    _check_blog(fields, required=False)
    log.info("akismet verify-key: site %s", site.name)
    return _text("valid")


@bp.route("/1.1/test", methods=["GET", "POST"])
def connection_test() -> Response:
    """The WordPress plugin's connectivity check: ``connected``."""
    return _text("connected")


@bp.post("/1.1/get-subscription")
def get_subscription() -> Response:
    """The account behind a key, in the shape the WordPress plugin reads (``invalid`` if none)."""
    fields = _read_fields()
    site = _site(_read_only_session(), fields)
    key = (_get(fields, "key") or _get(fields, "api_key")).strip() or _host_key()
    body = {
        "status": "active",
        "account_type": "self-hosted",
        "account_name": site.name,
        "user_login": site.name,
        "user_email": "",
        "api_key": key,
        "limit_reached": False,
        "next_billing_date": None,
    }
    return _text(json.dumps(body), headers={"Content-Type": "application/json"})


@bp.post("/1.1/get-stats")
def get_stats() -> Response:
    """Akismet's statistics for a key, in the shape the WordPress plugin reads.

    comment-check stores nothing, so what is counted is what sites sent back: labels of
    missed spam (submit-spam) and false positives (submit-ham), over ``from`` (``6-months`` or
    ``all``).
    """
    fields = _read_fields()
    session = _read_only_session()
    site = _site(session, fields)
    since = utcnow() - timedelta(days=183) if _get(fields, "from") == "6-months" else None
    counts = feedback_counts(session, site=site, since=since)
    body = {
        "spam": 0,
        "ham": 0,
        "missed_spam": counts["spam"],
        "false_positives": counts["ham"],
        "accuracy": 100,
        "time_saved": 0,
        "breakdown": {},
    }
    return _text(json.dumps(body), headers={"Content-Type": "application/json"})


@bp.post("/1.1/deactivate")
def deactivate() -> Response:
    """The plugin tells Akismet it stops using a key: nothing to do here, ``deactivated``."""
    fields = _read_fields()
    _site(_read_only_session(), fields)
    return _text("deactivated")


@bp.post("/1.1/comment-check")
def comment_check() -> Response:
    """``true`` (spam) or ``false``, decided as intake decides from what the request carries.

    The comment is judged by intake's own ``judge`` (the model, the rules, moderators' blocks on
    the email or address, the thresholds with the config's overrides); only what needs a stored
    comment (duplicates, flood, form tokens) does not apply. The answer is ``true`` when the
    decision is ``spam`` or when the spam score is at or above the spam head's ``allow``
    threshold: uncertain spam goes to the site's spam folder, where a person can rescue it.
    ``X-akismet-pro-tip: discard`` marks blatant spam (the spam score at or above ``reject``, or
    a filled honeypot), which clients may drop unseen. Akismet's own rules hold too:
    ``user_role=administrator`` is never spam, and the author ``akismet-guaranteed-spam`` (or
    the email ``akismet-guaranteed-spam@example.com``) always is.

    Without a model (none loaded, or scoring failed), a comment that no rule marks as spam
    was not checked, and neither answer would be true: ``false`` would publish unchecked
    spam, ``true`` would bury legitimate comments in a spam folder that sites purge
    unread. So the answer is an error, HTTP 503 with ``Retry-After`` and the reason in
    ``X-akismet-debug-help``: exactly what clients see when Akismet itself is unreachable.
    The WordPress plugin then holds the comment for moderation and checks it again later;
    the ``akismet`` package raises ``RequestError`` for its caller to do the same. This
    matches intake, where every comment waits for review without a model.
    """
    fields = _read_fields()
    session = _read_only_session()
    site = _comment_request(fields, session)
    if _get(fields, "user_role").strip().lower() == "administrator":
        return _text("false")
    content = _get(fields, "comment_content")
    author = _get(fields, "comment_author").strip()
    email = _get(fields, "comment_author_email").strip().lower()
    url = _get(fields, "comment_author_url").strip()
    if author == GUARANTEED_SPAM_AUTHOR or email == GUARANTEED_SPAM_EMAIL:
        return _text("true")

    ip = _get(fields, "user_ip").strip()
    email_rule, ip_rule = author_rules(session, email=email, ip=ip)
    judged = judge(
        get_scorer(),
        CommentInput(content, author, email, url),
        ip=ip,
        settings=settings_from_config(current_app.config),
        honeypot=_honeypot(fields),
        email_rule=email_rule,
        ip_rule=ip_rule,
    )
    scores, thresholds, signals, decision = (
        judged.scores,
        judged.thresholds,
        judged.signals,
        judged.verdict,
    )
    codes = ",".join(r.code for r in decision.reasons)
    headers: dict[str, str] = {}
    if signals.honeypot:
        # Akismet's protocol has no review: a filled honeypot is blatant spam here, as it is
        # to Akismet (intake holds a clean-looking one for a person instead).
        spam, discard = True, True
    elif decision.status is Status.SPAM:
        spam = True
        discard = any(r.code in ("honeypot", "spam_score") for r in decision.reasons)
    elif decision.status is Status.REJECTED:
        # Akismet knows only spam or not: what intake would refuse (abuse, a banned word)
        # goes to the site's spam folder too, with the reason for whoever looks.
        spam, discard = True, False
        headers["X-akismet-debug-help"] = "Refused as abuse: " + "; ".join(
            f"{r.code} {r.detail}".strip() for r in decision.reasons
        )
    elif scores is None:
        log.warning("akismet comment-check for site %s: not checked (no model)", site.name)
        message = "The spam model is not available; the comment was not checked. Try again later."
        raise AkismetRefusal(
            message,
            debug_help=message,
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    else:
        spam, discard = scores["spam"] >= thresholds["spam"].allow, False
    log.info(
        "akismet comment-check for site %s: %s%s (%s)",
        site.name,
        "spam" if spam else "ham",
        ", discard" if discard else "",
        codes,
    )
    if discard:
        headers["X-akismet-pro-tip"] = "discard"
    return _text("true" if spam else "false", headers=headers)


def _submit(spam: int) -> Response:
    fields = _read_fields()
    session = get_session()
    try:
        site = _comment_request(fields, session)
        if _truthy(_get(fields, "is_test")):
            log.info("akismet submit for site %s: test call, not stored", site.name)
        else:
            record_label(
                session,
                source="akismet",
                site=site,
                content=_get(fields, "comment_content"),
                author=_get(fields, "comment_author").strip(),
                email=_get(fields, "comment_author_email").strip().lower(),
                url=_get(fields, "comment_author_url").strip(),
                spam=spam,
                daily_cap=int(current_app.config["FEEDBACK_DAILY_CAP"]),
            )
            session.commit()
            log.info("akismet submit-%s from site %s", "spam" if spam else "ham", site.name)
    except Exception:
        session.rollback()
        raise
    return _text(SUBMITTED)


@bp.post("/1.1/submit-spam")
def submit_spam() -> Response:
    """Store a comment the site says is spam as a training label."""
    return _submit(1)


@bp.post("/1.1/submit-ham")
def submit_ham() -> Response:
    """Store a comment the site says is not spam (a false positive) as a training label."""
    return _submit(0)


@bp.route("/1.2/usage-limit", methods=["GET", "POST"])
def usage_limit() -> Response:
    """Akismet's usage report: this service has no limit, and checks are not counted."""
    fields = _read_fields()
    _site(_read_only_session(), fields)
    return jsonify({"limit": "none", "usage": 0, "percentage": "0.00", "throttled": False})
