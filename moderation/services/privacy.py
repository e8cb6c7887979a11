"""Privacy: erase old request metadata, and erase or export one person's data.

:func:`purge` blanks comments' IP address, user agent and referrer past the retention period
and deletes delivered webhook events; :func:`erase` anonymises one person's comments in place
(threads, decisions and statistics stay consistent); :func:`export` gathers what is held about
an email. Every function takes the caller's session and never commits; the statements are
bulk UPDATEs and DELETEs. What is kept, for how long, and how erasure works: docs/privacy.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Result,
    Select,
    Table,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, selectinload

from moderation.storage.db import utcnow
from moderation.storage.tables import (
    Comment,
    DecisionRecord,
    FeedbackLabel,
    FormTokenUse,
    Prediction,
    WebhookEvent,
)

ERASED = "(erased)"
# Form tokens live a day (MODERATION_FORM_TOKEN_MAX_AGE); their spent record, two.
FORM_TOKEN_DAYS = 2
# Rows per statement: bounded so that one statement stays well under the database's
# statement timeout, and under SQLite's limit on bound parameters.
BATCH_SIZE = 5000
_CHUNK = 500
# Reason codes whose detail names the person (block lists) or may quote them (a moderator's
# note); their details are erased with the comment.
PERSONAL_REASON_CODES = frozenset(
    {"blocked_ip", "blocked_email", "blocked_domain", "moderator_reason"}
)

_COMMENTS = cast(Table, Comment.__table__)


@dataclass
class PurgeReport:
    """What :func:`purge` changed."""

    comments: int = 0  # comments whose IP address, user agent and referrer were blanked
    webhook_events: int = 0  # delivered webhook events deleted
    complete: bool = True  # False when ``max_rows`` stopped it with more left to do

    def counts(self) -> dict[str, int]:
        """The counts per table."""
        return {"comments": self.comments, "webhook_events": self.webhook_events}


@dataclass
class EraseReport:
    """What :func:`erase` changed, per table."""

    comments: int = 0  # anonymised
    decisions: int = 0  # reason details erased
    feedback_labels: int = 0  # deleted
    webhook_events_rewritten: int = 0  # undelivered: personal fields replaced
    webhook_events_deleted: int = 0  # delivered: deleted

    def counts(self) -> dict[str, int]:
        """The counts, by name."""
        return asdict(self)


# --------------------------------------------------------------------------- helpers


def _rowcount(result: Result[Any]) -> int:
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


def _chunks(items: Sequence[int], size: int = _CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _expire(session: Session, model: type[Any], ids: Iterable[int]) -> None:
    """Expire the rows of ``model`` with these ids that the session holds (bulk statements
    bypass the identity map)."""
    wanted = set(ids)
    if not wanted:
        return
    for obj in list(session.identity_map.values()):
        if isinstance(obj, model) and getattr(obj, "id", None) in wanted:
            session.expire(obj)


def _in_batches(
    session: Session,
    id_column: Any,
    conditions: Sequence[ColumnElement[bool]],
    statement: Any,
    *,
    batch_size: int,
    max_rows: int | None,
) -> tuple[int, bool]:
    """Apply ``statement`` (an UPDATE or DELETE) to the rows matching ``conditions``, a batch
    of ids at a time in id order (keyset: rows done are never scanned again).

    Rows another transaction has locked are skipped (PostgreSQL), so concurrent purges never
    wait for each other; they are caught by the next run.

    :returns: the rows changed, and whether every matching row was reached.
    """
    changed = 0
    last: int | None = None
    while True:
        limit = batch_size if max_rows is None else min(batch_size, max_rows - changed)
        query: Select[Any] = select(id_column).where(*conditions)
        if last is not None:
            query = query.where(id_column > last)
        if limit <= 0:
            return changed, session.scalar(query.limit(1)) is None
        ids = list(
            session.scalars(
                query.order_by(id_column).limit(limit).with_for_update(skip_locked=True)
            )
        )
        if not ids:
            return changed, True
        # The conditions again: a row changed since it was read is left alone.
        changed += _rowcount(
            session.execute(
                statement.where(id_column.in_(ids), *conditions).execution_options(
                    synchronize_session=False
                )
            )
        )
        last = ids[-1]
        if len(ids) < limit:
            return changed, True


# --------------------------------------------------------------------------- purge


def purge(
    session: Session,
    *,
    now: datetime,
    retention_days: int,
    webhook_retention_days: int,
    batch_size: int = BATCH_SIZE,
    max_rows: int | None = None,
) -> PurgeReport:
    """Blank the IP address, user agent and referrer of comments created more than
    ``retention_days`` before ``now``, and delete webhook events delivered more than
    ``webhook_retention_days`` before it (not committed).

    A period of 0 or less keeps that data forever (nothing is done for it). Each statement
    touches at most ``batch_size`` rows; ``max_rows`` (per table) bounds a run, for the
    service's own hourly purge inside a request. ``updated_at`` is kept: a comment's readers
    see no change.
    """
    report = PurgeReport()
    rows_done = True
    if retention_days > 0:
        cutoff = now - timedelta(days=retention_days)
        report.comments, rows_done = _in_batches(
            session,
            Comment.id,
            [
                Comment.created_at < cutoff,
                or_(Comment.ip != "", Comment.user_agent != "", Comment.referrer != ""),
            ],
            update(Comment).values(
                ip="", user_agent="", referrer="", updated_at=Comment.updated_at
            ),
            batch_size=batch_size,
            max_rows=max_rows,
        )
    events_done = True
    if webhook_retention_days > 0:
        delivered_cutoff = now - timedelta(days=webhook_retention_days)
        report.webhook_events, events_done = _in_batches(
            session,
            WebhookEvent.id,
            [WebhookEvent.delivered_at < delivered_cutoff],
            delete(WebhookEvent),
            batch_size=batch_size,
            max_rows=max_rows,
        )
    # Spent form tokens only guard against a replay while a token is valid (a day).
    session.execute(
        delete(FormTokenUse).where(FormTokenUse.used_at < now - timedelta(days=FORM_TOKEN_DAYS))
    )
    report.complete = rows_done and events_done
    return report


# --------------------------------------------------------------------------- erase


def _person(email: str | None, ip: str | None) -> tuple[str, str]:
    """The normalised email and IP address; at least one must be given."""
    email_n = (email or "").strip().lower()
    ip_n = (ip or "").strip()
    if not email_n and not ip_n:
        raise ValueError("give an email address or an IP address")
    return email_n, ip_n


def erased_email(comment_id: int) -> str:
    """The placeholder email of an erased comment (a valid address that reaches no one)."""
    return f"erased-{comment_id}@invalid"


def erased_duplicate_key(comment_id: int) -> str:
    """The duplicate key of an erased comment: unique, and derived from nothing personal."""
    return hashlib.sha256(f"erased:{comment_id}".encode()).hexdigest()


def _scrub_reasons(
    reasons: list[dict[str, Any]], needles: Sequence[str]
) -> list[dict[str, Any]] | None:
    """The reasons with personal details erased, or ``None`` when none had any."""
    changed = False
    scrubbed = []
    for reason in reasons:
        detail = str(reason.get("detail") or "")
        personal = reason.get("code") in PERSONAL_REASON_CODES or any(
            needle in detail.lower() for needle in needles
        )
        if personal and detail and detail != ERASED:
            scrubbed.append({**reason, "detail": ERASED})
            changed = True
        else:
            scrubbed.append(reason)
    return scrubbed if changed else None


def _events_about(session: Session, comment_ids: Sequence[int]) -> list[tuple[int, bool]]:
    """The outbox events about these comments: (event id, delivered), in id order.

    The comment id lives in the JSON payload, which no index covers: one scan of the outbox
    over the ids' range, filtered here.
    """
    if not comment_ids:
        return []
    wanted = set(comment_ids)
    about = WebhookEvent.payload[("comment", "id")].as_integer()
    rows = session.execute(
        select(WebhookEvent.id, about, WebhookEvent.delivered_at)
        .where(about.between(min(wanted), max(wanted)))
        .order_by(WebhookEvent.id)
    ).all()
    return [(row[0], row[2] is not None) for row in rows if row[1] in wanted]


def erase(
    session: Session,
    *,
    email: str | None = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> EraseReport:
    """Anonymise every comment with this email or from this IP address, and what refers to
    them: decisions' personal details, labels with the email, webhook events (not committed).

    See the module docstring for what is kept and why. Erasing twice changes nothing more.

    :raises ValueError: neither an email nor an IP address (blank ones do not count).
    """
    email_n, ip_n = _person(email, ip)
    now = now or utcnow()
    report = EraseReport()
    who = []
    if email_n:
        who.append(Comment.email == email_n)
    if ip_n:
        who.append(Comment.ip == ip_n)
    targets = session.execute(
        select(Comment.id, Comment.email, Comment.ip).where(or_(*who)).order_by(Comment.id)
    ).all()
    ids = [row[0] for row in targets]

    erase_comment = (
        update(_COMMENTS)
        .where(_COMMENTS.c.id == bindparam("b_id"))
        .values(
            author=ERASED,
            email=bindparam("b_email"),
            url="",
            content=ERASED,
            ip="",
            user_agent="",
            referrer="",
            duplicate_key=bindparam("b_key"),
            version=_COMMENTS.c.version + 1,  # a moderator's stale form is refused
            updated_at=now,
        )
    )
    for chunk in _chunks(ids):
        session.execute(
            erase_comment,
            [
                {"b_id": i, "b_email": erased_email(i), "b_key": erased_duplicate_key(i)}
                for i in chunk
            ],
        )
    report.comments = len(ids)
    _expire(session, Comment, ids)
    # A held comment's explanation quotes its words (and its author's name and website).
    explained: list[int] = []
    for chunk in _chunks(ids):
        explained += session.scalars(
            update(Prediction)
            .where(Prediction.comment_id.in_(chunk), Prediction.explanation.is_not(None))
            .values(explanation=None)
            .returning(Prediction.id)
        ).all()
    _expire(session, Prediction, explained)

    needles = sorted(
        {v.lower() for row in targets for v in (row[1], row[2]) if v} | {email_n, ip_n} - {""}
    )
    changed_decisions: list[dict[str, Any]] = []
    for chunk in _chunks(ids):
        for decision in session.execute(
            select(DecisionRecord.id, DecisionRecord.reasons).where(
                DecisionRecord.comment_id.in_(chunk)
            )
        ):
            scrubbed = _scrub_reasons(list(decision.reasons or []), needles)
            if scrubbed is not None:
                changed_decisions.append({"id": decision.id, "reasons": scrubbed})
    if changed_decisions:
        # ORM bulk UPDATE by primary key: one executemany, JSON bound as the column's type.
        session.execute(update(DecisionRecord), changed_decisions)
        _expire(session, DecisionRecord, [d["id"] for d in changed_decisions])
    report.decisions = len(changed_decisions)

    events = _events_about(session, ids)
    delivered = [event_id for event_id, done in events if done]
    pending = [event_id for event_id, done in events if not done]
    for chunk in _chunks(delivered):
        report.webhook_events_deleted += _rowcount(
            session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(chunk)))
        )
    rewritten: list[dict[str, Any]] = []
    for chunk in _chunks(pending):
        for event in session.execute(
            select(WebhookEvent.id, WebhookEvent.payload).where(WebhookEvent.id.in_(chunk))
        ):
            body = dict(event.payload or {})
            body["comment"] = {
                **dict(body.get("comment") or {}),
                "author": ERASED,
                "url": "",
                "content": ERASED,
            }
            rewritten.append({"id": event.id, "payload": body})
    if rewritten:
        session.execute(update(WebhookEvent), rewritten)
        _expire(session, WebhookEvent, [e["id"] for e in rewritten])
    report.webhook_events_rewritten = len(rewritten)

    if email_n:
        report.feedback_labels = _rowcount(
            session.execute(delete(FeedbackLabel).where(func.lower(FeedbackLabel.email) == email_n))
        )
    return report


# --------------------------------------------------------------------------- export


def _plain(value: Any) -> Any:
    """A column value as JSON: datetimes as ISO 8601 strings, enums by their value."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def _row(obj: Any, *, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every mapped column of a row, JSON-ready."""
    mapper = sa_inspect(type(obj))
    return {
        attr.key: _plain(getattr(obj, attr.key))
        for attr in mapper.column_attrs
        if attr.key not in exclude
    }


def export(session: Session, *, email: str, now: datetime | None = None) -> dict[str, Any]:
    """Everything held about the person with this email, JSON-serialisable: their comments
    (every column but the internal duplicate key) with predictions and decisions, their
    feedback labels, and the webhook events about their comments.

    :raises ValueError: a blank email.
    """
    email_n, _ = _person(email, None)
    comments = session.scalars(
        select(Comment)
        .where(Comment.email == email_n)
        .order_by(Comment.id)
        .options(selectinload(Comment.predictions), selectinload(Comment.decisions))
    ).all()
    labels = session.scalars(
        select(FeedbackLabel)
        .where(func.lower(FeedbackLabel.email) == email_n)
        .order_by(FeedbackLabel.id)
    ).all()
    event_ids = [event_id for event_id, _ in _events_about(session, [c.id for c in comments])]
    events: list[WebhookEvent] = []
    for chunk in _chunks(event_ids):
        events.extend(
            session.scalars(
                select(WebhookEvent).where(WebhookEvent.id.in_(chunk)).order_by(WebhookEvent.id)
            )
        )
    return {
        "email": email_n,
        "exported_at": (now or utcnow()).isoformat(),
        "comments": [
            {
                **_row(comment, exclude=frozenset({"duplicate_key"})),
                "predictions": [_row(p) for p in comment.predictions],
                "decisions": [_row(d) for d in comment.decisions],
            }
            for comment in comments
        ],
        # The digest is an index over the text, which is exported itself.
        "feedback_labels": [_row(label, exclude=frozenset({"content_digest"})) for label in labels],
        "webhook_events": [_row(event) for event in events],
    }
