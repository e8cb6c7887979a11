"""The moderation dashboard's numbers: volume, backlog, time to decision, moderators, overturns.

Each figure is one aggregate query over indexed columns restricted to the range (UTC days), so
its cost follows the range and the backlog, not the size of the tables. The SQL is the same on
SQLite and PostgreSQL but for :class:`day_of` and :class:`seconds_between`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Float

from moderation.domain.errors import BadRequestError
from moderation.domain.policy import Status
from moderation.storage.db import UTCDateTime, utcnow
from moderation.storage.tables import Comment, DecisionRecord, Moderator, Prediction

DEFAULT_DAYS = 30
MAX_DAYS = 90  # at 1M comments a year: 90 days ~1.3 s (SQLite) to 1.6 s (PostgreSQL), a year 5-7 s


# --------------------------------------------------------------------------- SQL per dialect


class day_of(FunctionElement[Any]):
    """The UTC calendar day of a timestamp (a ``date`` or an ISO ``YYYY-MM-DD`` string)."""

    inherit_cache = True
    name = "day_of"


@compiles(day_of)
def _day_of_sqlite(element: day_of, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps UTC timestamps as "YYYY-MM-DD HH:MM:SS.ffffff" text.
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(day_of, "postgresql")
def _day_of_postgresql(element: day_of, compiler: SQLCompiler, **kw: Any) -> str:
    # Not the session's time zone: days are UTC days everywhere.
    return f"CAST(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC' AS DATE)"


class seconds_between(FunctionElement[float]):
    """``later - earlier`` in seconds."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between)
def _seconds_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    earlier, later = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _seconds_postgresql(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    earlier, later = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({later}) - ({earlier}))"


def _all(result: Any) -> list[Any]:
    """The rows of a result, untyped (each one is unpacked into its columns)."""
    return list(result)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


# --------------------------------------------------------------------------- the range


@dataclass(frozen=True)
class DateRange:
    """Whole UTC days ``[start, end)``, the last one being today (up to ``now``)."""

    start: datetime
    end: datetime
    now: datetime

    @property
    def days(self) -> list[date]:
        """Each day of the range, oldest first."""
        first = self.start.date()
        return [first + timedelta(days=i) for i in range((self.end - self.start).days)]

    def day_ends(self) -> list[datetime]:
        """The moment each day is read at: its end, or now for today."""
        return [min(self.start + timedelta(days=i + 1), self.now) for i in range(len(self.days))]


def parse_days(raw: str | None) -> int:
    """The ``?days=`` parameter: whole days from 1 to :data:`MAX_DAYS`, 30 when absent.

    :raises BadRequestError: anything else.
    """
    if raw is None or raw == "":
        return DEFAULT_DAYS
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
        raise BadRequestError(f"days must be a whole number from 1 to {MAX_DAYS}.")
    return int(raw)


def date_range(days: int, now: datetime | None = None) -> DateRange:
    """The last ``days`` UTC days, today included."""
    if not 1 <= days <= MAX_DAYS:
        raise BadRequestError(f"days must be a whole number from 1 to {MAX_DAYS}.")
    now = (now or utcnow()).astimezone(UTC)
    end = datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=UTC)
    return DateRange(start=end - timedelta(days=days), end=end, now=now)


# --------------------------------------------------------------------------- the figures


@dataclass(frozen=True)
class BacklogPoint:
    """The review queue at one moment: how many waited, and for how long the oldest had."""

    at: datetime
    pending: int
    oldest_seconds: float | None


@dataclass(frozen=True)
class DecisionTime:
    """How long the comments a moderator decided on one day had waited."""

    day: date
    decided: int
    median_seconds: float


@dataclass
class Overturns:
    """What became of one model version's automatic decisions of one kind.

    ``kind`` is ``published`` (the model found both heads clear), ``refused_spam`` and
    ``refused_abuse`` (a head at or above its reject threshold), ``held_spam``,
    ``held_abuse``, ``held_both`` (a head between its thresholds), or ``rules`` (a rule
    decided: honeypot, banned word, links, trusted author...). ``now`` counts each current
    status of those comments.
    """

    version: str
    kind: str
    now: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Comments decided this way."""
        return sum(self.now.values())

    @property
    def overturned(self) -> int | None:
        """How many a moderator reversed (``None`` for held ones: nothing to reverse)."""
        if self.kind == "published":
            return self.now.get("spam", 0) + self.now.get("rejected", 0)
        if self.kind in ("refused_spam", "refused_abuse"):
            return self.now.get("approved", 0)
        return None

    @property
    def overturn_rate(self) -> float | None:
        """``overturned / total``: one minus the live precision estimate."""
        if self.overturned is None or not self.total:
            return None
        return self.overturned / self.total


@dataclass
class Stats:
    """Everything the dashboard shows for one range."""

    range: DateRange
    per_day: dict[date, dict[str, int]]
    backlog: list[BacklogPoint]
    decision_times: list[DecisionTime]
    moderators: list[tuple[str, dict[str, int]]]
    overturns: list[Overturns]

    def as_json(self) -> dict[str, Any]:
        """The JSON form (``/api/v1/stats``)."""
        return {
            "from": self.range.start.isoformat(),
            "to": self.range.end.isoformat(),
            "comments_per_day": [
                {"day": d.isoformat(), **self.per_day[d]} for d in self.range.days
            ],
            "backlog": [
                {
                    "at": p.at.isoformat(),
                    "pending": p.pending,
                    "oldest_pending_seconds": p.oldest_seconds,
                }
                for p in self.backlog
            ],
            "time_to_decision": [
                {
                    "day": t.day.isoformat(),
                    "decided": t.decided,
                    "median_seconds": round(t.median_seconds, 1),
                }
                for t in self.decision_times
            ],
            "decisions_per_moderator": [
                {"moderator": name, **counts} for name, counts in self.moderators
            ],
            "overturns": [
                {
                    "model_version": o.version,
                    "kind": o.kind,
                    "total": o.total,
                    "now": o.now,
                    "overturned": o.overturned,
                    "overturn_rate": o.overturn_rate,
                }
                for o in self.overturns
            ],
        }


def comments_per_day(session: Session, rng: DateRange) -> dict[date, dict[str, int]]:
    """Per day of the range (by arrival), the comments in each current status."""
    day = day_of(Comment.created_at)
    rows: list[Any] = _all(
        session.execute(
            select(day, Comment.status, func.count())
            .where(Comment.created_at >= rng.start, Comment.created_at < rng.end)
            .group_by(day, Comment.status)
        )
    )
    out = {d: {s.value: 0 for s in Status} for d in rng.days}
    for raw_day, status, n in rows:
        out.setdefault(_as_date(raw_day), {s.value: 0 for s in Status})[status.value] = n
    return out


def _stints_ended(rng: DateRange, *, by_moderators: bool = False) -> Any:
    """Queue stints that ended in the range (``started``, ``ended``); ``by_moderators``: only
    those a moderator ended.

    A stint starts at a decision whose status is ``pending`` and ends at the comment's next
    decision (an approval, a refusal, or an undo that takes it out of the queue again).
    The decision before each leaving one is read by two index look-ups in the select list;
    joining it on ``id = (SELECT max(id) ...)`` makes PostgreSQL hash every decision.
    """
    leaving, before = aliased(DecisionRecord), aliased(DecisionRecord)

    def previous(value: Any) -> Any:
        return (
            select(value)
            .where(before.comment_id == leaving.comment_id, before.id < leaving.id)
            .order_by(before.id.desc())
            .limit(1)
            .scalar_subquery()
        )

    query = select(
        previous(before.created_at).label("started"),
        previous(before.status).label("was"),
        leaving.created_at.label("ended"),
    ).where(
        leaving.created_at >= rng.start,
        leaving.created_at < rng.end,
        leaving.status != Status.PENDING,
    )
    if by_moderators:
        query = query.where(leaving.moderator_id.is_not(None))
    stints = query.subquery()
    return select(stints.c.started, stints.c.ended).where(stints.c.was == Status.PENDING)


def backlog(session: Session, rng: DateRange) -> list[BacklogPoint]:
    """At the end of each day (now for today): comments waiting, and the oldest one's wait.

    The stints alive at some moment of the range are those still open (the comments pending
    now) and those that ended inside the range; older ones cannot count. They are read once,
    grouped by the day each started and the day it ended; the counts per day are then running
    sums over those few groups (waiting = started by then - ended by then), and the oldest
    waiting comment at a day's end is the earliest start among stints ending after that day
    (if it started by then, it is waiting then, and no waiting one started earlier).
    """
    latest = (
        select(DecisionRecord.created_at)
        .where(DecisionRecord.comment_id == Comment.id)
        .order_by(DecisionRecord.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    open_stints = select(
        func.coalesce(latest, Comment.created_at).label("started"),
        cast(null(), UTCDateTime()).label("ended"),
    ).where(Comment.status == Status.PENDING)
    ended = _stints_ended(rng).subquery()
    stints = union_all(open_stints, select(ended.c.started, ended.c.ended)).subquery()
    start_day, end_day = day_of(stints.c.started), day_of(stints.c.ended)
    groups: list[Any] = _all(
        session.execute(
            select(start_day, end_day, func.count(), func.min(stints.c.started)).group_by(
                start_day, end_day
            )
        )
    )
    days = rng.days
    started_by = [0] * len(days)  # stints started by the end of day i
    ended_by = [0] * len(days)
    earliest_after: list[datetime | None] = [None] * (len(days) + 1)  # among those ending after
    first = days[0]
    for raw_start, raw_end, n, earliest in groups:
        begins = max((_as_date(raw_start) - first).days, 0)
        if begins < len(days):
            started_by[begins] += n
        # Open stints end after every day; the others on their day (inside the range).
        ends = len(days) if raw_end is None else (_as_date(raw_end) - first).days
        if ends < len(days):
            ended_by[ends] += n
        if earliest_after[ends] is None or earliest < earliest_after[ends]:
            earliest_after[ends] = earliest
    for i in range(len(days) - 1, -1, -1):  # suffix minima: earliest start ending after day i
        later, here = earliest_after[i + 1], earliest_after[i]
        if later is not None and (here is None or later < here):
            earliest_after[i] = later
    points = []
    running_started = running_ended = 0
    for i, at in enumerate(rng.day_ends()):
        running_started += started_by[i]
        running_ended += ended_by[i]
        oldest = earliest_after[i + 1]
        points.append(
            BacklogPoint(
                at=at,
                pending=running_started - running_ended,
                oldest_seconds=(at - oldest).total_seconds()
                if oldest is not None and oldest <= at
                else None,
            )
        )
    return points


def decision_times(session: Session, rng: DateRange) -> list[DecisionTime]:
    """Per day, the median wait of the comments moderators took out of the queue that day.

    The median is computed in SQL with window functions (row numbers around the middle),
    which SQLite and PostgreSQL both have; ``percentile_cont`` is PostgreSQL's only.
    """
    ended = _stints_ended(rng, by_moderators=True).subquery()
    waits = select(
        day_of(ended.c.ended).label("day"),
        seconds_between(ended.c.started, ended.c.ended).label("wait"),
    ).subquery()
    ranked = select(
        waits.c.day,
        waits.c.wait,
        func.row_number().over(partition_by=waits.c.day, order_by=waits.c.wait).label("rn"),
        func.count().over(partition_by=waits.c.day).label("n"),
    ).subquery()
    middle = ranked.c.rn.in_(
        [(ranked.c.n + 1) // literal(2, Integer), (ranked.c.n + 2) // literal(2, Integer)]
    )
    rows: list[Any] = _all(
        session.execute(
            select(ranked.c.day, func.max(ranked.c.n), func.avg(ranked.c.wait))
            .where(middle)
            .group_by(ranked.c.day)
            .order_by(ranked.c.day)
        )
    )
    return [DecisionTime(_as_date(d), int(n), float(m)) for d, n, m in rows]


def decisions_per_moderator(session: Session, rng: DateRange) -> list[tuple[str, dict[str, int]]]:
    """Per moderator, their decisions in the range by kind (status given, or ``undo``), most
    active first."""
    kind = case(
        (DecisionRecord.undoes_id.is_not(None), literal("undo")),
        else_=cast(DecisionRecord.status, Text),
    )
    rows: list[Any] = _all(
        session.execute(
            select(Moderator.name, kind, func.count())
            .join(Moderator, Moderator.id == DecisionRecord.moderator_id)
            .where(DecisionRecord.created_at >= rng.start, DecisionRecord.created_at < rng.end)
            .group_by(Moderator.name, kind)
        )
    )
    per: dict[str, dict[str, int]] = defaultdict(dict)
    for name, k, n in rows:
        per[name][str(k)] = n
    return sorted(per.items(), key=lambda item: (-sum(item[1].values()), item[0]))


def _has(code: str) -> Any:
    # The automatic decision's reason codes, as intake stored them with the comment (",a,b,").
    return Comment.reason_codes.contains(f",{code},", autoescape=True)


def overturns(session: Session, rng: DateRange) -> list[Overturns]:
    """Per model version and kind of automatic decision, the comments' statuses now.

    Over the comments that arrived in the range: their first decision (the automatic one)
    and first prediction (the model version) against their current status. The automatic
    decision is written with the comment, so it is among the decisions of the range (which
    lets PostgreSQL read them by the index on their time rather than hash every decision);
    it is the one with no earlier decision on its comment.
    """
    first, earlier = aliased(DecisionRecord), aliased(DecisionRecord)
    is_first = ~(
        select(earlier.id)
        .where(earlier.comment_id == first.comment_id, earlier.id < first.id)
        .exists()
    )
    first_version = (
        select(Prediction.model_version)
        .where(Prediction.comment_id == Comment.id)
        .order_by(Prediction.id)
        .limit(1)
        .scalar_subquery()
    )
    status = first.status
    spam_held = _has("spam_uncertain")
    abuse_held = or_(_has("abuse_uncertain"), _has("abuse_unaddressed"))
    kind = case(
        (and_(status == Status.APPROVED, _has("model_clear")), literal("published")),
        (and_(status == Status.SPAM, _has("spam_score")), literal("refused_spam")),
        (and_(status == Status.REJECTED, _has("abuse_score")), literal("refused_abuse")),
        (and_(status == Status.PENDING, spam_held, abuse_held), literal("held_both")),
        (and_(status == Status.PENDING, spam_held), literal("held_spam")),
        (and_(status == Status.PENDING, abuse_held), literal("held_abuse")),
        else_=literal("rules"),
    )
    version = func.coalesce(first_version, literal("none"))
    rows: list[Any] = _all(
        session.execute(
            select(version, kind, Comment.status, func.count())
            .select_from(Comment)
            .join(first, first.comment_id == Comment.id)
            .where(
                Comment.created_at >= rng.start,
                Comment.created_at < rng.end,
                first.created_at >= rng.start,
                is_first,
            )
            .group_by(version, kind, Comment.status)
        )
    )
    found: dict[tuple[str, str], Overturns] = {}
    for v, k, status, n in rows:
        row = found.setdefault((v, k), Overturns(version=v, kind=k))
        row.now[status.value] = n
    order = list(_KIND_ORDER)
    return sorted(found.values(), key=lambda o: (o.version, order.index(o.kind)))


_KIND_ORDER = (
    "published",
    "refused_spam",
    "refused_abuse",
    "held_spam",
    "held_abuse",
    "held_both",
    "rules",
)


def dashboard(session: Session, *, days: int = DEFAULT_DAYS, now: datetime | None = None) -> Stats:
    """All the dashboard's figures for the last ``days`` days."""
    rng = date_range(days, now)
    if session.get_bind().dialect.name == "postgresql":
        # These few statements run in well under a second, but their cost estimates (per-row
        # subqueries) make PostgreSQL spend ~0.2 s compiling each with JIT: not for them.
        session.execute(text("SET LOCAL jit = off"))
    return Stats(
        range=rng,
        per_day=comments_per_day(session, rng),
        backlog=backlog(session, rng),
        decision_times=decision_times(session, rng),
        moderators=decisions_per_moderator(session, rng),
        overturns=overturns(session, rng),
    )
