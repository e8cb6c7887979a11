"""How long the moderation dashboard's queries take on a large database.

Fills a fresh database (SQLite file or PostgreSQL URL) with N comments spread over a year, as
intake and moderators would leave them (an automatic decision and a prediction each; 12% held,
most of those decided by one of 20 moderators within two days), then times
:func:`moderation.services.stats.dashboard` for several ranges, each figure separately.

    .venv/bin/python benchmarks/bench_stats.py --comments 1000000
    .venv/bin/python benchmarks/bench_stats.py --url postgresql+psycopg://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from moderation.services import stats
from moderation.storage import migrate
from moderation.storage.tables import Comment, DecisionRecord, Moderator, Prediction
from moderation.web import database as db

CHUNK = 20_000


def fill(engine: Any, n: int, now: datetime) -> None:
    """N comments over the year before ``now``, with their decisions and predictions."""
    rng = random.Random(7)
    start = now - timedelta(days=365)
    span = (now - start).total_seconds()
    with engine.begin() as connection:
        connection.execute(
            insert(Moderator),
            [
                {
                    "id": m,
                    "name": f"moderator-{m}",
                    "role": "moderator",
                    "password_hash": "x",
                    "created_at": start,
                }
                for m in range(1, 21)
            ],
        )
    decision_id = 0
    for first in range(0, n, CHUNK):
        comments, decisions, predictions = [], [], []
        for i in range(first, min(first + CHUNK, n)):
            at = start + timedelta(seconds=span * i / n)
            draw = rng.random()
            auto, code = (
                ("approved", "model_clear")
                if draw < 0.80
                else ("spam", "spam_score")
                if draw < 0.85
                else ("rejected", "abuse_score")
                if draw < 0.88
                else ("pending", "spam_uncertain")
            )
            status = auto
            decision_id += 1
            decisions.append(
                {
                    "id": decision_id,
                    "comment_id": i + 1,
                    "actor": "system",
                    "moderator_id": None,
                    "status": auto,
                    "reasons": [{"code": code, "detail": ""}],
                    "created_at": at,
                }
            )
            decided = at + timedelta(hours=rng.uniform(0.1, 48))
            if auto == "pending" and decided < now and rng.random() < 0.9:
                status = rng.choice(("approved", "approved", "approved", "spam", "rejected"))
                decision_id += 1
                decisions.append(
                    {
                        "id": decision_id,
                        "comment_id": i + 1,
                        "actor": "moderator",
                        "moderator_id": rng.randint(1, 20),
                        "status": status,
                        "reasons": [{"code": "moderator", "detail": ""}],
                        "created_at": decided,
                    }
                )
            comments.append(
                {
                    "id": i + 1,
                    "article_id": f"article-{i // 200}",
                    "author": f"Reader {i}",
                    "email": f"reader{i}@example.org",
                    "url": "",
                    "content": f"Comment number {i}.",
                    "status": status,
                    "ip": "",
                    "user_agent": "",
                    "referrer": "",
                    "duplicate_key": f"{i:064d}",
                    "reason_codes": f",{code},",
                    "priority": 0.0,
                    "version": 1,
                    "created_at": at,
                    "updated_at": at,
                }
            )
            predictions.append(
                {
                    "comment_id": i + 1,
                    "model_version": "v1" if i < n // 2 else "v2",
                    "spam": 0.1,
                    "abuse": 0.1,
                    "created_at": at,
                }
            )
        with engine.begin() as connection:
            connection.execute(insert(Comment), comments)
            connection.execute(insert(DecisionRecord), decisions)
            connection.execute(insert(Prediction), predictions)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))  # both databases: plan with the real sizes


def timed(label: str, fn: Any) -> Any:
    """Run ``fn`` three times; print the best time."""
    best, out = float("inf"), None
    for _ in range(3):
        started = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - started)
    print(f"  {label:<28} {best * 1000:8.1f} ms")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument("--url", help="a database to fill (default: a new SQLite file)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-stats-")
    url = args.url or f"sqlite:///{Path(folder) / 'stats.db'}"
    engine = db.make_engine(url)
    migrate.upgrade(engine)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*), max(created_at) FROM comments")).one()
    if stored[0]:  # a database filled by an earlier run: measure it as it is
        last = datetime.fromisoformat(str(stored[1]))
        now = last.replace(tzinfo=UTC) if last.tzinfo is None else last.astimezone(UTC)
        print(f"{engine.dialect.name}: {stored[0]:,} comments already there")
    else:
        now = datetime.now(UTC)
        started = time.perf_counter()
        fill(engine, args.comments, now)
        took = time.perf_counter() - started
        print(f"{engine.dialect.name}: {args.comments:,} comments in {took:.0f} s")
    with Session(engine) as session:
        for days in (7, 30, 90):
            rng = stats.date_range(days, now)
            print(f"last {days} days:")
            timed("comments per day", lambda r=rng: stats.comments_per_day(session, r))
            timed("backlog and oldest", lambda r=rng: stats.backlog(session, r))
            timed("time to decision", lambda r=rng: stats.decision_times(session, r))
            timed(
                "decisions per moderator", lambda r=rng: stats.decisions_per_moderator(session, r)
            )
            timed("overturns", lambda r=rng: stats.overturns(session, r))
            timed("whole dashboard", lambda d=days: stats.dashboard(session, days=d, now=now))
    engine.dispose()


if __name__ == "__main__":
    main()
