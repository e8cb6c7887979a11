"""The review queue: tabs, search, paging, leases (claims), human decisions, undo, history,
labels, reader reports and author rules.

Every decision stays visible and reversible: each human decision is a new ``decisions`` row,
checked against the comment version the moderator saw (a conflict, never a silent overwrite).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import Select, and_, func, literal, or_, select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from moderation.domain.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ValidationFailedError,
)
from moderation.domain.policy import Reason, Role, Status
from moderation.ml.datasets import Example
from moderation.storage.db import utcnow
from moderation.storage.tables import Comment, DecisionRecord, Moderator, Prediction, Report

DEFAULT_LEASE = timedelta(minutes=5)
Sort = Literal["priority", "age"]


class Action(StrEnum):
    """What a moderator can decide."""

    APPROVE = "approve"
    REJECT_SPAM = "reject_spam"
    REJECT_ABUSE = "reject_abuse"
    HOLD = "hold"  # back to review


ACTION_STATUS = {
    Action.APPROVE: Status.APPROVED,
    Action.REJECT_SPAM: Status.SPAM,
    Action.REJECT_ABUSE: Status.REJECTED,
    Action.HOLD: Status.PENDING,
}


class Tab(StrEnum):
    """The queue's views: one per status, readers' reports, and everything."""

    PENDING = "pending"
    REPORTED = "reported"
    APPROVED = "approved"
    SPAM = "spam"
    REJECTED = "rejected"
    ALL = "all"


TAB_STATUS = {
    Tab.PENDING: Status.PENDING,
    Tab.APPROVED: Status.APPROVED,
    Tab.SPAM: Status.SPAM,
    Tab.REJECTED: Status.REJECTED,
}
# Counting stops here: "10,000+" is as useful as the exact figure and costs no full scan.
COUNT_CAP = 10_000


@dataclass(frozen=True)
class QueueFilter:
    """Which comments to list, and in which order.

    ``sort`` applies to the pending tab (priority or age); the reported tab lists the most
    reported first; the others list the newest first.
    """

    article_id: str | None = None
    reason: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    sort: Sort = "priority"
    tab: Tab = Tab.PENDING
    text: str | None = None
    author: str | None = None
    email: str | None = None
    ip: str | None = None

    @property
    def searching(self) -> bool:
        """Whether anything narrows the tab (then its count is counted apart)."""
        return any(
            v is not None
            for v in (
                self.article_id,
                self.reason,
                self.min_score,
                self.max_score,
                self.text,
                self.author,
                self.email,
                self.ip,
            )
        )


def _filtered(query: Select[Any], flt: QueueFilter, dialect: str) -> Select[Any]:
    if flt.tab is Tab.REPORTED:
        query = query.where(Comment.open_reports > 0)
    elif flt.tab is not Tab.ALL:
        query = query.where(Comment.status == TAB_STATUS[flt.tab])
    if flt.article_id:
        query = query.where(Comment.article_id == flt.article_id)
    if flt.reason:
        query = query.where(Comment.reason_codes.contains(f",{flt.reason},", autoescape=True))
    if flt.text:
        query = query.where(Comment.content.icontains(flt.text, autoescape=True))
    if flt.author:
        query = query.where(Comment.author.icontains(flt.author, autoescape=True))
    if flt.email:
        # A whole address uses the index; a part of one is searched for.
        if "@" in flt.email:
            query = query.where(Comment.email == flt.email)
        else:
            query = query.where(Comment.email.icontains(flt.email, autoescape=True))
    if flt.ip:
        query = query.where(Comment.ip == flt.ip)
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


# Each order: (column, descending) pairs, the last one unique (the keyset).
_ORDERS: dict[str, tuple[tuple[Any, bool], ...]] = {
    "priority": ((Comment.priority, True), (Comment.id, False)),
    "age": ((Comment.created_at, False), (Comment.id, False)),
    "reported": ((Comment.open_reports, True), (Comment.id, False)),
    "newest": ((Comment.id, True),),
}


def _order_name(flt: QueueFilter) -> str:
    if flt.tab is Tab.PENDING:
        return flt.sort
    return "reported" if flt.tab is Tab.REPORTED else "newest"


def _ordered(query: Select[Any], sort: Sort | str) -> Select[Any]:
    return query.order_by(*(col.desc() if desc else col for col, desc in _ORDERS[sort]))


class CursorError(ValidationFailedError):
    """A paging cursor that this listing did not hand out."""

    def __init__(self) -> None:
        super().__init__(
            [
                {
                    "field": "cursor",
                    "code": "invalid_cursor",
                    "message": "This page link is not valid for this list; start from page one.",
                }
            ]
        )


def _sort_key(comment: Comment, order: str) -> list[Any]:
    values: list[Any] = []
    for col, _ in _ORDERS[order]:
        value = getattr(comment, col.key)
        values.append(value.isoformat() if isinstance(value, datetime) else value)
    return values


def encode_cursor(order: str, key: list[Any]) -> str:
    """An opaque cursor: the order's name and the last item's sort key."""
    raw = json.dumps([order, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, order: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise CursorError() from None
    columns = _ORDERS[order]
    if not isinstance(data, list) or len(data) != len(columns) + 1 or data[0] != order:
        raise CursorError()
    values: list[Any] = []
    for (col, _), value in zip(columns, data[1:], strict=True):
        if col is Comment.created_at:
            try:
                parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
            except ValueError:
                parsed = None
            if parsed is None or parsed.tzinfo is None:
                raise CursorError()
            values.append(parsed)
        elif col is Comment.priority:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise CursorError()
            values.append(float(value))
        else:
            if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 2**62:
                raise CursorError()
            values.append(value)
    return values


def _after(order: str, values: list[Any]) -> Any:
    """Rows after the one with these sort values (lexicographic, each column its direction)."""
    columns = _ORDERS[order]
    (first, first_desc), last = columns[0], columns[-1]
    beyond = first < values[0] if first_desc else first > values[0]
    if len(columns) == 1:
        return beyond
    col, desc = last
    tie = col < values[1] if desc else col > values[1]
    return or_(beyond, and_(first == values[0], tie))


@dataclass
class Page:
    """One page of a tab: the comments, the cursor of the next page, the filtered total."""

    items: list[Comment]
    next_cursor: str | None
    total: int
    total_capped: bool
    counts: dict[str, int] = field(default_factory=dict)


def _capped_count(query: Select[Any], cap: int) -> Any:
    """``count(*)`` of at most ``cap + 1`` rows of ``query`` (a scalar subquery)."""
    limited = query.limit(cap + 1).subquery()
    return select(func.count()).select_from(limited).scalar_subquery()


def tab_counts(session: Session, *, cap: int = COUNT_CAP) -> dict[str, int]:
    """How many comments each tab holds, each counted up to ``cap + 1`` (one statement)."""
    counts = {
        tab.value: _capped_count(
            _filtered(select(literal(1)).select_from(Comment), QueueFilter(tab=tab), ""), cap
        ).label(tab.value)
        for tab in Tab
        if tab is not Tab.ALL
    }
    row = session.execute(select(*counts.values())).one()
    return {name: int(row[i]) for i, name in enumerate(counts)}


def list_comments(
    session: Session,
    *,
    flt: QueueFilter,
    cursor: str | None = None,
    limit: int = 50,
    offset: int = 0,
    with_counts: bool = True,
    cap: int = COUNT_CAP,
) -> Page:
    """One page of a tab in its order, after ``cursor`` (or skipping ``offset`` rows).

    The cursor is a keyset (the last item's sort key): a page never shifts when items before
    it are decided meanwhile.

    :raises CursorError: the cursor is not one this order handed out.
    """
    dialect = session.get_bind().dialect.name
    order = _order_name(flt)
    query = _ordered(_filtered(select(Comment), flt, dialect), order)
    if cursor:
        query = query.where(_after(order, _decode_cursor(cursor, order)))
    elif offset:
        query = query.offset(offset)
    rows = list(
        session.scalars(
            query.limit(limit + 1).options(
                selectinload(Comment.decisions), selectinload(Comment.predictions)
            )
        ).all()
    )
    more = len(rows) > limit
    items = rows[:limit]
    next_cursor = encode_cursor(order, _sort_key(items[-1], order)) if more and items else None
    counts = tab_counts(session, cap=cap) if with_counts else {}
    if flt.searching or flt.tab is Tab.ALL or not counts:
        total = session.scalar(
            select(
                _capped_count(_filtered(select(literal(1)).select_from(Comment), flt, dialect), cap)
            )
        )
    else:
        total = counts[flt.tab.value]
    total = int(total or 0)
    return Page(items, next_cursor, min(total, cap), total > cap, counts)


def author_histories(session: Session, emails: Sequence[str]) -> dict[str, dict[str, int]]:
    """For each email, how many of its comments are in each status (one statement)."""
    out = {email: {status.value: 0 for status in Status} for email in emails}
    if not emails:
        return out
    rows = session.execute(
        select(Comment.email, Comment.status, func.count())
        .where(Comment.email.in_(set(emails)))
        .group_by(Comment.email, Comment.status)
    ).all()
    for email, status, n in rows:
        out[email][status.value] = int(n)
    return out


def open_reports(session: Session, comment_ids: Sequence[int]) -> dict[int, list[Report]]:
    """The reports not handled yet on these comments, oldest first (one statement)."""
    out: dict[int, list[Report]] = {i: [] for i in comment_ids}
    if not comment_ids:
        return out
    rows = session.scalars(
        select(Report)
        .where(Report.comment_id.in_(comment_ids), Report.resolved_at.is_(None))
        .order_by(Report.id)
    ).all()
    for report in rows:
        out[report.comment_id].append(report)
    return out


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

    A conditional UPDATE: of two moderators claiming the same item at once, one gets it.

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
    # Only pending comments can be leased, whatever tab the filter names.
    free = and_(
        Comment.status == Status.PENDING,
        or_(Comment.claimed_by.is_(None), Comment.claim_expires_at < now),
    )
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


def record_decision(
    session: Session,
    *,
    comment_id: int,
    moderator: Moderator,
    action: Action,
    reason: str | None = None,
    version: int | None = None,
    now: datetime | None = None,
) -> DecisionRecord:
    """Record a moderator's decision on a comment, pending or not.

    A pending comment is decided as it is (unless another moderator holds it). Any other
    comment, decided by the model or by a moderator, can be changed too: publishing, refusing,
    rescuing from spam or sending back to review, but only with the version the moderator
    saw (so nobody overwrites a decision they have not seen) and a reason (kept in the
    history). Deciding a reported comment handles its reports, whatever the outcome.

    :param version: the comment version the moderator saw; ``None`` skips that check (bulk),
        and then only a pending comment can be decided.
    :raises ConflictError: the comment changed since, is decided (and no version was given),
        already has that status, or another moderator holds it.
    :raises ValidationFailedError: changing a decided comment without a reason.
    """
    now = now or utcnow()
    comment = _get(session, comment_id)
    if version is not None and comment.version != version:
        raise ConflictError(
            f"This comment changed since you loaded it (version {version}, now {comment.version})."
        )
    status = ACTION_STATUS[action]
    if comment.status is Status.PENDING:
        if _held_by_other(comment, moderator, now):
            raise ConflictError("Another moderator holds this comment.")
    elif version is None:
        raise ConflictError(
            f"This comment was already decided: {comment.status.value}. To change it, send "
            "the version you saw and a reason."
        )
    elif status is not comment.status and not (reason or "").strip():
        raise ValidationFailedError(
            [
                {
                    "field": "reason",
                    "code": "reason_required",
                    "message": "Say why you change a decision that was already made.",
                }
            ]
        )
    if status is comment.status and not comment.open_reports:
        raise ConflictError(f"This comment is {status.value} already.")
    reasons = [Reason("moderator", f"{action.value} by {moderator.name}")]
    if comment.status is not Status.PENDING:
        reasons.append(
            Reason("changed", f"{comment.status.value} -> {status.value} by {moderator.name}")
        )
    if reason and reason.strip():
        reasons.append(Reason("moderator_reason", reason.strip()[:500]))
    if comment.open_reports:
        reasons.append(Reason("reports_handled", f"{comment.open_reports} open report(s)"))
        session.execute(
            update(Report)
            .where(Report.comment_id == comment.id, Report.resolved_at.is_(None))
            .values(resolved_at=now)
            .execution_options(synchronize_session=False)
        )
        comment.open_reports = 0
    decision = DecisionRecord(
        actor=moderator.name,
        moderator_id=moderator.id,
        status=status,
        reasons=[r.as_dict() for r in reasons],
        created_at=now,
    )
    _apply(session, comment, decision, now)
    return decision


def _apply(session: Session, comment: Comment, decision: DecisionRecord, now: datetime) -> None:
    # The comment keeps the reason codes of its automatic decision: the queue filters and
    # explains by what held it, not by "moderator" or "undo".
    try:
        with session.no_autoflush:
            comment.decisions.append(decision)
            comment.status = decision.status
            comment.claimed_by = None
            comment.claim_expires_at = None
            comment.updated_at = now
        session.flush()  # UPDATE ... WHERE version = <loaded>: a concurrent change fails here
    except StaleDataError as exc:
        raise ConflictError() from exc


def _effective_human_decisions(comment: Comment) -> list[DecisionRecord]:
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
) -> DecisionRecord:
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
    decision = DecisionRecord(
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
                record_decision(
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


def latest_decisions(session: Session, comment_ids: Sequence[int]) -> list[DecisionRecord]:
    """The newest decision row of each of these comments."""
    if not comment_ids:
        return []
    newest = (
        select(func.max(DecisionRecord.id))
        .where(DecisionRecord.comment_id.in_(comment_ids))
        .group_by(DecisionRecord.comment_id)
    )
    return list(session.scalars(select(DecisionRecord).where(DecisionRecord.id.in_(newest))).all())


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


_LABELS = {
    Status.APPROVED: (0, 0),
    Status.SPAM: (1, None),  # spam says nothing about abuse
    Status.REJECTED: (None, 1),  # refused as abuse says nothing about spam
}


def moderator_labels(session: Session) -> list[Example]:
    """Training labels from moderators: per comment, the latest decision that still stands."""
    comments = session.scalars(
        select(Comment)
        .where(Comment.decisions.any(DecisionRecord.moderator_id.is_not(None)))
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
