"""The webhook outbox: events written in the same transaction as the change they report
(:func:`enqueue`, called just before the caller commits), and its housekeeping."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.orm import Session

from moderation.domain.policy import Status
from moderation.storage.db import utcnow
from moderation.storage.tables import Comment, WebhookEvent

PUBLISHED = "comment.published"
REJECTED = "comment.rejected"
HELD = "comment.held"
EVENTS = (PUBLISHED, REJECTED, HELD)
EVENT_FOR_STATUS = {
    Status.APPROVED: PUBLISHED,
    Status.SPAM: REJECTED,
    Status.REJECTED: REJECTED,
    Status.PENDING: HELD,
}


def comment_json(comment: Comment) -> dict[str, Any]:
    """The comment as the site sees it in an event (no email, no IP)."""
    return {
        "id": comment.id,
        "article_id": comment.article_id,
        "parent_id": comment.parent_id,
        "status": comment.status.value,
        "author": comment.author,
        "url": comment.url,
        "content": comment.content,
        "created_at": comment.created_at.isoformat(),
    }


def event_for(status: Status) -> str:
    """The event a comment's new status gives."""
    return EVENT_FOR_STATUS[status]


# Built once: the intake enqueues an event with every comment.
_EVENTS_TABLE = WebhookEvent.metadata.tables["webhook_events"]
_INSERT_EVENT = insert(_EVENTS_TABLE).returning(_EVENTS_TABLE.c.id)


def event_body(event: str, comment: Comment, now: datetime) -> dict[str, Any]:
    """An event's body without its "id", which the row gets when it is inserted."""
    return {"event": event, "created_at": now.isoformat(), "comment": comment_json(comment)}


def event_row(event: str, comment: Comment, now: datetime) -> dict[str, Any]:
    """A new outbox row's values: the event, its body, due now, never tried."""
    return {
        "event": event,
        "payload": event_body(event, comment, now),
        "attempts": 0,
        "next_attempt_at": now,
        "delivered_at": None,
        "last_error": "",
        "created_at": now,
    }


def enqueue(
    session: Session,
    event: str,
    comment: Comment,
    *,
    enabled: bool,
    now: datetime | None = None,
) -> int | None:
    """Add ``event`` about ``comment`` to the outbox, in the session's transaction (not
    committed: the caller commits it with the change it reports).

    :param enabled: whether webhooks are on (``MODERATION_WEBHOOK_URL`` is set).
    :returns: the new row's id, or ``None`` when webhooks are off.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    if not enabled:
        return None
    if comment.id is None:
        session.flush()
    now = now or utcnow()
    event_id: int = (
        session.connection().execute(_INSERT_EVENT, event_row(event, comment, now)).scalar_one()
    )
    return event_id


def enqueue_status(
    session: Session, comment: Comment, *, enabled: bool, now: datetime | None = None
) -> int | None:
    """Enqueue the event for the comment's current status (see :func:`enqueue`)."""
    return enqueue(session, event_for(comment.status), comment, enabled=enabled, now=now)


def enqueue_statuses(
    session: Session, comment_ids: Iterable[int], *, enabled: bool, now: datetime | None = None
) -> list[int]:
    """Enqueue the event for the current status of each of these comments (bulk decisions)."""
    if not enabled:
        return []
    ids = []
    for comment_id in comment_ids:
        comment = session.get(Comment, comment_id)
        if comment is not None:
            event_id = enqueue_status(session, comment, enabled=True, now=now)
            if event_id is not None:
                ids.append(event_id)
    return ids


def body_of(event_id: int, payload: Mapping[str, Any]) -> bytes:
    """The request body of an outbox row."""
    return json.dumps(
        {"id": event_id, **payload}, ensure_ascii=False, separators=(",", ":")
    ).encode()


def outbox_status(session: Session, *, max_attempts: int) -> dict[str, int]:
    """Counts: ``pending`` (to be tried), ``delivered`` and ``failed`` (given up)."""
    undelivered = WebhookEvent.delivered_at.is_(None)
    row = session.execute(
        select(
            func.count(case((WebhookEvent.delivered_at.is_not(None), 1))),
            func.count(case((undelivered & (WebhookEvent.attempts < max_attempts), 1))),
            func.count(case((undelivered & (WebhookEvent.attempts >= max_attempts), 1))),
        )
    ).one()
    return {"pending": int(row[1]), "delivered": int(row[0]), "failed": int(row[2])}


def retry_failed(session: Session, *, max_attempts: int, now: datetime | None = None) -> int:
    """Give every failed event a new round of attempts, due now (flushed, not committed)."""
    result = session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.delivered_at.is_(None), WebhookEvent.attempts >= max_attempts)
        .values(attempts=0, next_attempt_at=now or utcnow(), last_error="")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
