"""Taking a comment in: duplicate and flood checks, rules, scoring, the decision, storage.

Services take the session and the scorer as arguments and never commit: the view commits
once, so a comment is stored whole (comment, prediction, decision) or not at all.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, cast, func, insert, literal_column, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from moderation.domain.errors import DuplicateCommentError, FloodError, ValidationFailedError
from moderation.domain.policy import (
    HEADS,
    Reason,
    Signals,
    Status,
    Thresholds,
    Verdict,
    decide,
)
from moderation.domain.rules import (
    IntakeSettings,
    blocked_reasons,
    reason_codes,
    review_priority,
)
from moderation.ml.features import CommentInput
from moderation.ml.signals import content_signals
from moderation.schemas import CommentIn
from moderation.services import authors, webhooks
from moderation.services.scoring import Scorer, Scores
from moderation.storage.db import utcnow
from moderation.storage.tables import Comment, DecisionRecord

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class RequestMeta:
    """Where the comment came from, and what the form's bot traps said."""

    ip: str = ""
    user_agent: str = ""
    referrer: str = ""
    honeypot: bool = False
    form_check: str | None = None
    # sha256 of a valid form token: spent with the comment, refused the second time.
    form_token: str | None = None
    # The author proved to be the same person as before (a signed cookie from their earlier
    # comment, or a site backend vouching for a signed-in user): only then does their history
    # of approved comments count. An email alone is something anyone can type.
    continuity: bool = False


@dataclass(frozen=True)
class IntakeResult:
    """A stored comment and how it was decided."""

    comment: Comment
    decision: Verdict
    scores: Scores | None
    model_version: str | None


def duplicate_key(article_id: str, email: str, content: str) -> str:
    """Same article, same email, same words (ignoring case and spacing): a duplicate."""
    text = " ".join(content.lower().split())
    return hashlib.sha256(f"{article_id}\0{email.lower()}\0{text}".encode()).hexdigest()


def thresholds_for(scorer: Scorer | None, settings: IntakeSettings) -> dict[str, Thresholds]:
    """The model's thresholds with any configured overrides applied."""
    base = dict(scorer.thresholds) if scorer is not None else {}
    out = {}
    for head in HEADS:
        model = base.get(head, Thresholds(0.0, 1.0))
        override = settings.threshold_overrides.get(head, {})
        reject = override.get("reject", model.reject)
        # An override may cross the other edge; then the review band closes (allow = reject).
        allow = min(override.get("allow", model.allow), reject)
        out[head] = Thresholds(allow=allow, reject=reject)
    return out


_COMMENTS = Comment.metadata.tables["comments"]
# The latest comment from an email (or an address) since a time (each side uses its index).
_LATEST_FROM_EMAIL = select(func.max(_COMMENTS.c.created_at)).where(
    _COMMENTS.c.email == bindparam("email"), _COMMENTS.c.created_at > bindparam("since")
)
_LATEST_FROM_EMAIL_OR_IP = select(func.max(_COMMENTS.c.created_at)).where(
    or_(_COMMENTS.c.email == bindparam("email"), _COMMENTS.c.ip == bindparam("ip")),
    _COMMENTS.c.created_at > bindparam("since"),
)
_TOKENS = Comment.metadata.tables["form_token_uses"]
_RULES = Comment.metadata.tables["author_rules"]
# One round trip for what intake must know before scoring: is this comment a duplicate, has
# its form token been spent, and has a moderator blocked or trusted its email or address?
_SEEN = select(
    select(_COMMENTS.c.id)
    .where(_COMMENTS.c.duplicate_key == bindparam("key"))
    .scalar_subquery()
    .label("duplicate"),
    select(_TOKENS.c.digest)
    .where(_TOKENS.c.digest == bindparam("digest"))
    .scalar_subquery()
    .label("token_spent"),
    select(_RULES.c.action)
    .where(_RULES.c.kind == "email", _RULES.c.value == bindparam("email"))
    .scalar_subquery()
    .label("email_rule"),
    select(_RULES.c.action)
    .where(_RULES.c.kind == "ip", _RULES.c.value == bindparam("ip"))
    .scalar_subquery()
    .label("ip_rule"),
)
# Two transaction locks in one round trip (the same key twice when there is one).
_LOCK_TWO = select(
    func.pg_advisory_xact_lock(func.hashtextextended(bindparam("first"), 0)),
    func.pg_advisory_xact_lock(func.hashtextextended(bindparam("second"), 0)),
)


def _lock_flood_keys(connection: Connection, *, ip: str, email: str) -> None:
    """PostgreSQL: one writer per address and per email at a time, across every worker and
    host; the locks last until the transaction ends, so the next writer sees this comment.
    (SQLite has one writer at a time anyway.) Sorted, so two writers never wait on each other."""
    keys = sorted({f"flood:email:{email.lower()}", f"flood:ip:{ip}"} - {"flood:ip:"})
    connection.execute(_LOCK_TWO, {"first": keys[0], "second": keys[-1]})


def _flood_error(
    connection: Connection, *, ip: str, email: str, now: datetime, seconds: int
) -> FloodError | None:
    """The flood answer if this address or email commented within ``seconds``, else None."""
    # Without an address (a backend that did not send one), by email alone.
    latest = connection.execute(
        _LATEST_FROM_EMAIL_OR_IP if ip else _LATEST_FROM_EMAIL,
        {"email": email, "ip": ip, "since": now - timedelta(seconds=seconds)},
    ).scalar()
    if latest is None:
        return None
    if latest.tzinfo is None:  # SQLite's func.max() bypasses the column type
        latest = datetime.fromisoformat(str(latest)).replace(tzinfo=now.tzinfo)
    elapsed = (now - latest).total_seconds()
    return FloodError(retry_after=max(1, math.ceil(seconds - elapsed)))


def _check_parent(session: Session, data: CommentIn) -> None:
    if data.parent_id is None:
        return
    parent = session.get(Comment, data.parent_id)
    if (
        parent is None
        or parent.article_id != data.article_id
        or parent.status is not Status.APPROVED
    ):
        raise ValidationFailedError(
            [
                {
                    "field": "comment_parent",
                    "code": "invalid_parent",
                    "message": "The comment you are replying to does not exist on this "
                    "article or is not published.",
                }
            ]
        )


def _trusted(session: Session, email: str, needed: int) -> bool:
    """At least ``needed`` comments approved by a moderator, and none ever refused.

    Only human approvals count: otherwise a few bland comments the model published would buy
    trust for the next, borderline one.
    """
    if needed <= 0:
        return False
    refused = session.scalar(
        select(func.count())
        .select_from(Comment)
        .where(Comment.email == email, Comment.status.in_([Status.SPAM, Status.REJECTED]))
    )
    if refused:
        return False
    approved_by_people = session.scalar(
        select(func.count(func.distinct(Comment.id)))
        .select_from(Comment)
        .join(DecisionRecord, DecisionRecord.comment_id == Comment.id)
        .where(
            Comment.email == email,
            Comment.status == Status.APPROVED,
            DecisionRecord.moderator_id.is_not(None),
            DecisionRecord.status == Status.APPROVED,
        )
    )
    return (approved_by_people or 0) >= needed


def score_safely(scorer: Scorer | None, comment: CommentInput) -> Scores | None:
    """The scores, or ``None`` without a model or when it fails (logged)."""
    if scorer is None:
        return None
    try:
        return scorer.score_many([comment])[0]
    except Exception:  # a model failure must never lose or publish a comment
        log.exception("scoring failed; the comment goes to review")
        return None


@dataclass(frozen=True)
class PreparedComment:
    """A comment checked, scored and decided, ready to be stored."""

    data: CommentIn
    meta: RequestMeta
    key: str
    scores: Scores | None
    model_version: str | None
    decision: Verdict
    thresholds: dict[str, Thresholds]
    now: datetime
    # Per head, the words that raised the score: worked out once here for a comment held for
    # review and stored with its prediction, so the queue never runs the model to show it.
    explanation: dict[str, list[dict[str, Any]]] | None = None


@dataclass(frozen=True)
class Judgement:
    """What the model and the rules make of a comment, before anything is stored."""

    scores: Scores | None
    thresholds: dict[str, Thresholds]
    signals: Signals
    verdict: Verdict


def author_rules(session: Session, *, email: str, ip: str) -> tuple[str | None, str | None]:
    """A moderator's rule (``block`` or ``trust``) on this email and on this address, for
    callers that store nothing (Akismet); the intake reads them in its own statement."""
    rules = authors.rules_for(session, emails=[email], ips=[ip])
    return rules.get(("email", email.lower())), rules.get(("ip", ip))


def judge(
    scorer: Scorer | None,
    comment: CommentInput,
    *,
    ip: str,
    settings: IntakeSettings,
    honeypot: bool = False,
    form_check: str | None = None,
    email_rule: str | None = None,
    ip_rule: str | None = None,
) -> Judgement:
    """Score a comment and apply every rule to it: the one place where a comment is judged,
    for the reply form, the JSON API and the Akismet API alike."""
    scores = score_safely(scorer, comment)
    signals = replace(
        content_signals(comment.content, settings),
        honeypot=honeypot,
        form_check=form_check,
        blocked=blocked_reasons(ip=ip, email=comment.email, url=comment.url, settings=settings)
        + _ruled_out(email_rule, ip_rule, email=comment.email, ip=ip),
    )
    thresholds = thresholds_for(scorer, settings)
    return Judgement(scores, thresholds, signals, decide(scores, thresholds, signals))


def prepare_comment(
    session: Session,
    scorer: Scorer | None,
    *,
    data: CommentIn,
    meta: RequestMeta,
    settings: IntakeSettings,
    now: datetime | None = None,
) -> PreparedComment:
    """Everything that only reads: duplicate and parent checks, scoring, rules, the decision.

    :raises DuplicateCommentError: the author said the same on this article before.
    :raises ValidationFailedError: the parent comment is missing, elsewhere or unpublished.
    """
    now = now or utcnow()
    key = duplicate_key(data.article_id, data.email, data.content)
    params = {"key": key, "digest": meta.form_token, "email": data.email.lower(), "ip": meta.ip}
    seen = session.connection().execute(_SEEN, params).one()
    if seen.duplicate is not None:
        raise DuplicateCommentError()
    _check_parent(session, data)
    form_check = meta.form_check
    if meta.form_token is not None and seen.token_spent is not None:
        form_check = "replayed"
        meta = replace(meta, form_token=None)  # spent already
    judged = judge(
        scorer,
        CommentInput(data.content, data.author, data.email, data.url),
        ip=meta.ip,
        settings=settings,
        honeypot=meta.honeypot,
        form_check=form_check,
        email_rule=seen.email_rule,
        ip_rule=seen.ip_rule,
    )
    scores, thresholds, signals, decision = (
        judged.scores,
        judged.thresholds,
        judged.signals,
        judged.verdict,
    )
    # The author's history only matters when the model alone held the comment back, and only
    # for an author who proved continuity.
    # A moderator's trust on the email stands for that history.
    if (
        decision.status is Status.PENDING
        and meta.continuity
        and (
            seen.email_rule == "trust"
            or _trusted(session, data.email, settings.trusted_after_approved)
        )
    ):
        decision = decide(scores, thresholds, replace(signals, trusted_author=True))
    version = scorer.version if scorer is not None and scores is not None else None
    explanation = None
    if decision.status is Status.PENDING and scores is not None and scorer is not None:
        explanation = explain_safely(
            scorer, CommentInput(data.content, data.author, data.email, data.url)
        )
    return PreparedComment(data, meta, key, scores, version, decision, thresholds, now, explanation)


def _ruled_out(
    email_rule: str | None, ip_rule: str | None, *, email: str, ip: str
) -> tuple[Reason, ...]:
    """A moderator's block on the email or the address, as reasons."""
    reasons = []
    if email_rule == "block":
        reasons.append(Reason("blocked_email", f"{email.lower()} (blocked by a moderator)"))
    if ip_rule == "block":
        reasons.append(Reason("blocked_ip", f"{ip} (blocked by a moderator)"))
    return tuple(reasons)


def explain_safely(
    scorer: Scorer, comment: CommentInput, *, top: int = 8
) -> dict[str, list[dict[str, Any]]] | None:
    """Per head, the words that raised the score (JSON form), or ``None`` if that fails."""
    try:
        found = scorer.explain(comment, top=top)
    except Exception:  # an explanation is a help, never a reason to lose a comment
        log.exception("explaining a held comment failed; it is stored without one")
        return None
    return {head: [c.as_dict() for c in contributions] for head, contributions in found.items()}


# The intake's writes, built once: plain Core inserts on the tables (no ORM unit of work, no
# per-request statement building).
_TABLES = Comment.metadata.tables
_INSERT_COMMENT = insert(_COMMENTS).returning(_COMMENTS.c.id)
_INSERT_TOKEN = insert(_TOKENS)
_INSERT_PREDICTION = insert(_TABLES["predictions"])
_INSERT_DECISION = insert(_TABLES["decisions"])
_COMMENT_FIELDS = [
    "spam_score",
    "abuse_score",
    "reason_codes",
    "priority",
    "article_id",
    "parent_id",
    "author",
    "email",
    "url",
    "content",
    "status",
    "ip",
    "user_agent",
    "referrer",
    "duplicate_key",
    "version",
    "open_reports",
    "created_at",
    "updated_at",
]


def _bound(table_name: str, columns: Sequence[str], prefix: str) -> dict[str, Any]:
    table = _TABLES[table_name]
    return {c: bindparam(f"{prefix}{c}", type_=table.c[c].type) for c in columns}


_EVENTS = Comment.metadata.tables["webhook_events"]
_EVENT_FIELDS = ("event", "attempts", "next_attempt_at", "delivered_at", "last_error", "created_at")


@lru_cache(maxsize=16)
def _insert_all(
    with_token: bool, with_prediction: bool, flood: str | None, with_event: bool
) -> Any:
    """PostgreSQL: the comment, its spent form token, prediction, decision and outbox event in
    one statement (data-modifying CTEs), so intake pays one round trip for the rows. Answers
    the id, or nothing when the flood guard finds a comment from the same email (``flood`` =
    "email") or email or address ("email_or_ip") since ``f_since`` (the caller holds the
    flood locks, taken in an earlier statement, so this statement's snapshot sees the last
    writer's comment)."""
    values = select(*_bound("comments", _COMMENT_FIELDS, "c_").values())
    if flood is not None:
        match = _COMMENTS.c.email == bindparam("f_email")
        if flood == "email_or_ip":
            match = or_(match, _COMMENTS.c.ip == bindparam("f_ip"))
        recent = select(_COMMENTS.c.id).where(match, _COMMENTS.c.created_at > bindparam("f_since"))
        values = values.where(~recent.exists())
    new = (
        insert(_COMMENTS)
        .from_select(list(_COMMENT_FIELDS), values)
        .returning(_COMMENTS.c.id)
        .cte("new_comment")
    )
    rows = []
    children: list[tuple[str, tuple[str, ...]]] = [
        ("decisions", ("actor", "moderator_id", "status", "reasons", "undoes_id", "created_at"))
    ]
    if with_prediction:
        children.append(
            (
                "predictions",
                ("model_version", "spam", "abuse", "thresholds", "explanation", "created_at"),
            )
        )
    for name, columns in children:
        bound = _bound(name, columns, f"{name[0]}_")
        rows.append(
            insert(_TABLES[name])
            .from_select(["comment_id", *columns], select(new.c.id, *bound.values()))
            .cte(f"new_{name}")
        )
    if with_token:
        spend = select(*_bound("form_token_uses", ("digest", "used_at"), "t_").values())
        rows.append(
            insert(_TOKENS)
            .from_select(["digest", "used_at"], spend.select_from(new))
            .cte("spent_token")
        )
    if with_event:
        # The event's body is the caller's, with the comment's new id set in it.
        payload = func.jsonb_set(
            bindparam("w_payload", type_=JSONB),
            literal_column("'{comment,id}'"),
            func.to_jsonb(new.c.id),
        )
        bound = _bound("webhook_events", _EVENT_FIELDS, "w_")
        rows.append(
            insert(_EVENTS)
            .from_select(
                [*_EVENT_FIELDS, "payload"],
                select(*bound.values(), cast(payload, _EVENTS.c.payload.type)).select_from(new),
            )
            .cte("new_event")
        )
    return select(new.c.id).add_cte(*rows)


def _duplicate_or(exc: IntegrityError) -> Exception:
    """A unique key refused the row (a duplicate raced past the checks): the duplicate answer.
    Any other integrity error is a bug, not a duplicate: it is raised as it is."""
    orig = exc.orig
    unique = getattr(orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(orig)
    return DuplicateCommentError() if unique else exc


def store_comment(
    session: Session,
    prepared: PreparedComment,
    *,
    settings: IntakeSettings,
    outbox: bool = False,
) -> IntakeResult:
    """Store a prepared comment with its prediction and decision (not committed), and with
    ``outbox`` its webhook event.

    The flood check runs here, in the writing transaction, so two quick comments from one
    address cannot both pass it; the unique duplicate key settles any duplicate race. The rows
    are written with Core inserts (no unit of work to sort out for three new rows); on
    PostgreSQL all of them and the flood check are one statement after the flood locks. The
    returned ``Comment`` is a transient object with the stored values and id.

    :raises FloodError: the same address or email commented within the flood interval.
    :raises DuplicateCommentError: an identical comment was stored meanwhile.
    """
    data, meta, scores, decision, now = (
        prepared.data,
        prepared.meta,
        prepared.scores,
        prepared.decision,
        prepared.now,
    )
    values: dict[str, Any] = {
        "spam_score": scores["spam"] if scores is not None else None,
        "abuse_score": scores["abuse"] if scores is not None else None,
        "reason_codes": reason_codes(decision.reasons),
        "priority": review_priority(scores, prepared.thresholds),
        "article_id": data.article_id,
        "parent_id": data.parent_id,
        "author": data.author,
        "email": data.email,
        "url": data.url,
        "content": data.content,
        "status": decision.status,
        "ip": meta.ip[:45],
        "user_agent": meta.user_agent[:512],
        "referrer": meta.referrer[:2048],
        "duplicate_key": prepared.key,
        "version": 1,
        "open_reports": 0,
        "created_at": now,
        "updated_at": now,
    }
    prediction = (
        {
            "model_version": prepared.model_version or "",
            "spam": scores["spam"],
            "abuse": scores["abuse"],
            "thresholds": {head: t.as_dict() for head, t in prepared.thresholds.items()},
            "explanation": prepared.explanation,
            "created_at": now,
        }
        if scores is not None
        else None
    )
    decision_row = {
        "actor": SYSTEM_ACTOR,
        "moderator_id": None,
        "status": decision.status,
        "reasons": [r.as_dict() for r in decision.reasons],
        "undoes_id": None,
        "created_at": now,
    }
    token = {"digest": meta.form_token, "used_at": now} if meta.form_token is not None else None
    event = webhooks.event_for(decision.status) if outbox else None
    flood = settings.flood_seconds > 0
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        params = {f"c_{k}": v for k, v in values.items()}
        params.update({f"d_{k}": v for k, v in decision_row.items()})
        params.update({f"p_{k}": v for k, v in (prediction or {}).items()})
        params.update({f"t_{k}": v for k, v in (token or {}).items()})
        if flood:
            _lock_flood_keys(connection, ip=meta.ip, email=data.email)
            since = now - timedelta(seconds=settings.flood_seconds)
            params.update({"f_email": data.email, "f_ip": meta.ip, "f_since": since})
        if event is not None:
            row = webhooks.event_row(event, Comment(id=0, **values), now)
            params.update({f"w_{k}": v for k, v in row.items()})
        statement = _insert_all(
            token is not None,
            prediction is not None,
            ("email_or_ip" if meta.ip else "email") if flood else None,
            event is not None,
        )
        try:
            found: int | None = connection.execute(statement, params).scalar()
        except IntegrityError as exc:
            raise _duplicate_or(exc) from exc
        if found is None:  # the flood guard held the insert back
            raise _flood_error(
                connection, ip=meta.ip, email=data.email, now=now, seconds=settings.flood_seconds
            ) or FloodError(retry_after=1)
        return IntakeResult(Comment(id=found, **values), decision, scores, prepared.model_version)
    if flood:
        error = _flood_error(
            connection, ip=meta.ip, email=data.email, now=now, seconds=settings.flood_seconds
        )
        if error is not None:
            raise error
    try:
        comment_id: int = connection.execute(_INSERT_COMMENT, values).scalar_one()
        if token is not None:  # spent: a second comment with it is a replay
            connection.execute(_INSERT_TOKEN, token)
    except IntegrityError as exc:
        # Two identical comments (a double click: same text, same form token) raced past the
        # checks in prepare_comment; the unique keys settle it. The caller rolls back.
        raise _duplicate_or(exc) from exc
    if prediction is not None:
        connection.execute(_INSERT_PREDICTION, {"comment_id": comment_id, **prediction})
    connection.execute(_INSERT_DECISION, {"comment_id": comment_id, **decision_row})
    stored = Comment(id=comment_id, **values)
    if event is not None:
        webhooks.enqueue(session, event, stored, now=now, enabled=True)
    return IntakeResult(stored, decision, scores, prepared.model_version)


def settings_from_config(config: Mapping[str, Any]) -> IntakeSettings:
    """Intake settings from the app config."""
    overrides: dict[str, dict[str, float]] = {}
    for head in HEADS:
        for edge in ("allow", "reject"):
            value: Any = config.get(f"{head.upper()}_{edge.upper()}")
            if value is not None and value != "":
                overrides.setdefault(head, {})[edge] = float(value)
    return IntakeSettings(
        flood_seconds=int(config["FLOOD_SECONDS"]),
        max_links=int(config["MAX_LINKS"]),
        blocked_ips=frozenset(config["BLOCKED_IPS"]),
        blocked_emails=frozenset(config["BLOCKED_EMAILS"]),
        blocked_domains=frozenset(config["BLOCKED_DOMAINS"]),
        banned_words=tuple(config["BANNED_WORDS"]),
        suspect_words=tuple(config["SUSPECT_WORDS"]),
        trusted_after_approved=int(config["TRUSTED_AFTER_APPROVED"]),
        threshold_overrides=overrides,
    )
