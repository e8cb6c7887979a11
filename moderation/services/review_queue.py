"""The review queue: listing, leases (claims), human decisions, undo, history, labels.

Every human decision is a new ``decisions`` row; the comment's status, claim and version
change with it. A decision carries the comment version the moderator saw: if the comment
changed since (another moderator decided, claimed or undid), it is a conflict, never a silent
overwrite. Claims are conditional UPDATEs (and ``FOR UPDATE SKIP LOCKED`` on PostgreSQL when
taking the next N), so two moderators never hold the same item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from moderation.db import utcnow
from moderation.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ValidationFailedError,
)
from moderation.ml.datasets import Example
from moderation.services.intake import reason_codes
from moderation.services.policy import Reason, Status
from moderation.tables import Comment, Decision, Moderator, Prediction, Role

DEFAULT_LEASE = timedelta(minutes=5)
Sort = Literal["priority", "age"]


class Action(StrEnum):
    """What a moderator can decide."""

    APPROVE = "approve"
    REJECT_SPAM = "reject_spam"
    REJECT_ABUSE = "reject_abuse"


ACTION_STATUS = {
    Action.APPROVE: Status.APPROVED,
    Action.REJECT_SPAM: Status.SPAM,
    Action.REJECT_ABUSE: Status.REJECTED,
}


@dataclass(frozen=True)
class QueueFilter:
    """Which pending items to list."""

    article_id: str | None = None
    reason: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    sort: Sort = "priority"


def _filtered(query: Select[Any], flt: QueueFilter, dialect: str) -> Select[Any]:
    query = query.where(Comment.status == Status.PENDING)
    if flt.article_id:
        query = query.where(Comment.article_id == flt.article_id)
    if flt.reason:
        query = query.where(Comment.reason_codes.like(f"%,{flt.reason},%"))
    if flt.min_score is not None or flt.max_score is not None:
        # SQLite's max() of two values is GREATEST elsewhere.
        spam = func.coalesce(Comment.spam_score, 0.0)
        abuse = func.coalesce(Comment.abuse_score, 0.0)
        top = func.max(spam, abuse) if dialect == "sqlite" else func.greatest(spam, abuse)
        if flt.min_score is not None:
            query = query.where(top >= flt.min_score)
        if flt.max_score is not None:
            query = query.where(top <= flt.max_score)
    return query


def _ordered(query: Select[Any], sort: Sort) -> Select[Any]:
    if sort == "age":
        return query.order_by(Comment.created_at, Comment.id)
    return query.order_by(Comment.priority.desc(), Comment.created_at, Comment.id)


def list_pending(
    session: Session, *, flt: QueueFilter, page: int, per_page: int
) -> tuple[int, list[Comment]]:
    """(total, one page of pending comments) in queue order."""
    dialect = session.get_bind().dialect.name
    total = session.scalar(_filtered(select(func.count()).select_from(Comment), flt, dialect))
    items = session.scalars(
        _ordered(_filtered(select(Comment), flt, dialect), flt.sort)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return total or 0, list(items)


def queue_stats(session: Session, now: datetime | None = None) -> tuple[int, float]:
    """(pending count, age in seconds of the oldest pending comment)."""
    now = now or utcnow()
    count, oldest = session.execute(
        select(func.count(), func.min(Comment.created_at)).where(Comment.status == Status.PENDING)
    ).one()
    if oldest is None:
        return int(count), 0.0
    if isinstance(oldest, str):  # SQLite's min() bypasses the column type
        oldest = datetime.fromisoformat(oldest)
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=now.tzinfo)
    return int(count), max(0.0, (now - oldest).total_seconds())


def _claimable(moderator: Moderator, now: datetime) -> Any:
    return and_(
        Comment.status == Status.PENDING,
        or_(
            Comment.claimed_by.is_(None),
            Comment.claimed_by == moderator.id,
            Comment.claim_expires_at < now,
        ),
    )


def claim(
    session: Session,
    *,
    comment_id: int,
    moderator: Moderator,
    lease: timedelta = DEFAULT_LEASE,
    now: datetime | None = None,
) -> Comment:
    """Lease one pending comment to ``moderator`` (renewing their own lease).

    :raises ConflictError: it is decided, or another moderator's lease is running.
    """
    now = now or utcnow()
    result = session.execute(
        update(Comment)
        .where(Comment.id == comment_id, _claimable(moderator, now))
        .values(
            claimed_by=moderator.id,
            claim_expires_at=now + lease,
            version=Comment.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    comment = session.get(Comment, comment_id, populate_existing=True)
    if comment is None:
        raise NotFoundError("No such comment.")
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ConflictError("Another moderator holds this comment, or it is decided already.")
    return comment


def claim_next(
    session: Session,
    *,
    moderator: Moderator,
    count: int,
    flt: QueueFilter = QueueFilter(),
    lease: timedelta = DEFAULT_LEASE,
    now: datetime | None = None,
) -> list[Comment]:
    """Lease the next ``count`` comments nobody holds, in queue order, to ``moderator``."""
    now = now or utcnow()
    dialect = session.get_bind().dialect.name
    free = or_(Comment.claimed_by.is_(None), Comment.claim_expires_at < now)
    query = _ordered(_filtered(select(Comment.id), flt, dialect).where(free), flt.sort).limit(count)
    # Concurrent claimers skip each other's rows instead of waiting for them (PostgreSQL);
    # SQLite runs one writing transaction at a time anyway.
    ids = list(session.scalars(query.with_for_update(skip_locked=True)).all())
    claimed = []
    for comment_id in ids:
        try:
            claimed.append(
                claim(session, comment_id=comment_id, moderator=moderator, lease=lease, now=now)
            )
        except ConflictError:
            continue
    return claimed


def release(session: Session, *, comment_id: int, moderator: Moderator) -> Comment:
    """Give a lease back.

    :raises ConflictError: the comment changed meanwhile (decided, or claimed anew): the
        version the lease was read at no longer matches.
    """
    comment = _get(session, comment_id)
    if comment.claimed_by == moderator.id:
        comment.claimed_by = None
        comment.claim_expires_at = None
        try:
            session.flush()  # UPDATE ... WHERE version = <loaded>
        except StaleDataError as exc:
            raise ConflictError() from exc
    return comment


def _get(session: Session, comment_id: int) -> Comment:
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise NotFoundError("No such comment.")
    return comment


def _held_by_other(comment: Comment, moderator: Moderator, now: datetime) -> bool:
    expires = comment.claim_expires_at
    return (
        comment.claimed_by is not None
        and comment.claimed_by != moderator.id
        and expires is not None
        and expires > now
    )


def decide(
    session: Session,
    *,
    comment_id: int,
    moderator: Moderator,
    action: Action,
    reason: str | None = None,
    version: int | None = None,
    now: datetime | None = None,
) -> Decision:
    """Record a moderator's decision on a pending comment.

    :param version: the comment version the moderator saw; ``None`` skips that check (bulk).
    :raises ConflictError: the comment changed since, is decided, or another moderator holds it.
    """
    now = now or utcnow()
    comment = _get(session, comment_id)
    if version is not None and comment.version != version:
        raise ConflictError(
            f"This comment changed since you loaded it (version {version}, now {comment.version})."
        )
    if comment.status is not Status.PENDING:
        raise ConflictError(f"This comment was already decided: {comment.status.value}.")
    if _held_by_other(comment, moderator, now):
        raise ConflictError("Another moderator holds this comment.")
    status = ACTION_STATUS[action]
    reasons = [Reason("moderator", f"{action.value} by {moderator.name}")]
    if reason:
        reasons.append(Reason("moderator_reason", reason[:500]))
    decision = Decision(
        actor=moderator.name,
        moderator_id=moderator.id,
        status=status,
        reasons=[r.as_dict() for r in reasons],
        created_at=now,
    )
    _apply(session, comment, decision, now)
    return decision


def _apply(session: Session, comment: Comment, decision: Decision, now: datetime) -> None:
    try:
        with session.no_autoflush:
            comment.decisions.append(decision)
            comment.status = decision.status
            comment.claimed_by = None
            comment.claim_expires_at = None
            comment.updated_at = now
            comment.reason_codes = reason_codes([Reason(r["code"]) for r in decision.reasons])
        session.flush()  # UPDATE ... WHERE version = <loaded>: a concurrent change fails here
    except StaleDataError as exc:
        raise ConflictError() from exc


def _effective_human_decisions(comment: Comment) -> list[Decision]:
    """Human decisions that still stand, oldest first (undone ones and undos removed)."""
    undone = {d.undoes_id for d in comment.decisions if d.undoes_id is not None}
    return [
        d
        for d in comment.decisions
        if d.moderator_id is not None and d.undoes_id is None and d.id not in undone
    ]


def undo(
    session: Session,
    *,
    comment_id: int,
    moderator: Moderator,
    decision_id: int | None = None,
    version: int | None = None,
    now: datetime | None = None,
) -> Decision:
    """Undo the latest standing human decision: the comment goes back to review.

    Moderators undo their own decisions; admins anyone's.

    :param decision_id: the decision meant; if another one was made since, nothing is undone.
    :raises ConflictError: nothing to undo, a newer decision stands, or the comment changed.
    :raises ForbiddenError: the decision is another moderator's.
    """
    now = now or utcnow()
    comment = _get(session, comment_id)
    if version is not None and comment.version != version:
        raise ConflictError("This comment changed since you loaded it.")
    standing = _effective_human_decisions(comment)
    if not standing:
        raise ConflictError("There is no moderator decision to undo on this comment.")
    target = standing[-1]
    if decision_id is not None and target.id != decision_id:
        raise ConflictError(
            f"Decision {decision_id} is not the latest one on this comment any more."
        )
    if target.moderator_id != moderator.id and moderator.role is not Role.ADMIN:
        raise ForbiddenError("Only an admin can undo another moderator's decision.")
    decision = Decision(
        actor=moderator.name,
        moderator_id=moderator.id,
        status=Status.PENDING,
        reasons=[Reason("undo", f"undid decision {target.id} by {target.actor}").as_dict()],
        undoes_id=target.id,
        created_at=now,
    )
    _apply(session, comment, decision, now)
    return decision


@dataclass(frozen=True)
class BulkResult:
    """One item's outcome in a bulk decision."""

    comment_id: int
    ok: bool
    status: str
    error: str | None = None


def decide_many(
    session: Session,
    *,
    comment_ids: Sequence[int],
    moderator: Moderator,
    action: Action,
    reason: str | None = None,
    now: datetime | None = None,
) -> list[BulkResult]:
    """Decide several comments; each succeeds or fails on its own."""
    if not comment_ids or len(comment_ids) > 500:
        raise ValidationFailedError(
            [{"field": "ids", "code": "invalid_ids", "message": "Give 1 to 500 comment ids."}]
        )
    results = []
    for comment_id in dict.fromkeys(comment_ids):
        try:
            with session.begin_nested():
                decide(
                    session,
                    comment_id=comment_id,
                    moderator=moderator,
                    action=action,
                    reason=reason,
                    now=now,
                )
            results.append(BulkResult(comment_id, True, ACTION_STATUS[action].value))
        except (ConflictError, NotFoundError) as exc:
            current = session.get(Comment, comment_id)
            results.append(
                BulkResult(
                    comment_id,
                    False,
                    current.status.value if current is not None else "missing",
                    exc.message,
                )
            )
    return results


def latest_decisions(session: Session, comment_ids: Sequence[int]) -> list[Decision]:
    """The newest decision row of each of these comments."""
    if not comment_ids:
        return []
    newest = (
        select(func.max(Decision.id))
        .where(Decision.comment_id.in_(comment_ids))
        .group_by(Decision.comment_id)
    )
    return list(session.scalars(select(Decision).where(Decision.id.in_(newest))).all())


def history(session: Session, comment_id: int) -> dict[str, Any]:
    """The model's output and every decision on a comment, oldest first."""
    comment = _get(session, comment_id)
    predictions = session.scalars(
        select(Prediction).where(Prediction.comment_id == comment_id).order_by(Prediction.id)
    ).all()
    return {
        "comment_id": comment.id,
        "status": comment.status.value,
        "version": comment.version,
        "predictions": [
            {
                "model_version": p.model_version,
                "spam": p.spam,
                "abuse": p.abuse,
                "created_at": p.created_at.isoformat(),
            }
            for p in predictions
        ],
        "decisions": [
            {
                "id": d.id,
                "actor": d.actor,
                "status": d.status.value,
                "reasons": d.reasons,
                "undoes": d.undoes_id,
                "created_at": d.created_at.isoformat(),
            }
            for d in comment.decisions
        ],
    }


def author_history(session: Session, email: str) -> dict[str, int]:
    """How many of this email's comments are in each status."""
    rows = session.execute(
        select(Comment.status, func.count()).where(Comment.email == email).group_by(Comment.status)
    ).all()
    counts = {status.value: 0 for status in Status}
    counts.update({status.value: int(n) for status, n in rows})
    return counts


_LABELS = {
    Status.APPROVED: (0, 0),
    Status.SPAM: (1, None),  # spam says nothing about abuse
    Status.REJECTED: (None, 1),  # refused as abuse says nothing about spam
}


def moderator_labels(session: Session) -> list[Example]:
    """Training labels from moderators: per comment, the latest decision that still stands."""
    comments = session.scalars(
        select(Comment)
        .where(Comment.decisions.any(Decision.moderator_id.is_not(None)))
        .options(selectinload(Comment.decisions))
        .execution_options(populate_existing=True)
    ).all()
    examples = []
    for comment in comments:
        standing = _effective_human_decisions(comment)
        if not standing or standing[-1].status not in _LABELS:
            continue
        spam, abuse = _LABELS[standing[-1].status]
        examples.append(
            Example(
                content=comment.content,
                author=comment.author,
                email=comment.email,
                url=comment.url,
                spam=spam,
                abuse=abuse,
                dataset="moderator",
                group=f"{comment.article_id}:{comment.id}",
            )
        )
    return examples
