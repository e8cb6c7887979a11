"""Seed a database with many stored comments, to measure the review queue at scale.

Rows go in with Core ``executemany`` inserts in batches (SQLAlchemy's "insertmanyvalues": one
multi-row INSERT per batch on PostgreSQL, a prepared statement over the batch on SQLite), with
the ids chosen here so that each comment's decision and prediction need no RETURNING. Every
comment looks like intake's output: scores, reason codes, a priority, a system decision, a
prediction with thresholds, and for the pending ones a stored explanation.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select

from moderation.domain.policy import Status
from moderation.storage.db import utcnow
from moderation.storage.tables import Comment

_T = Comment.metadata.tables
_TEXTS = [
    "I think the council got this one wrong, the library matters to a lot of people.",
    "Thanks for the clear reporting on the vote.",
    "Buy cheap watches at my shop, best prices online",
    "Where can I read the full scrutiny committee report?",
    "You clearly have no idea what you are talking about.",
    "My town lost its library five years ago and nobody noticed until it was gone.",
    "Great article, more of this please.",
    "The numbers in the second paragraph do not add up.",
]
_THRESHOLDS = {"spam": {"allow": 0.3, "reject": 0.8}, "abuse": {"allow": 0.3, "reject": 0.85}}


def seed_comments(
    engine: Engine,
    *,
    comments: int,
    pending: int,
    batch: int = 10_000,
    articles: int = 2_000,
    progress: Callable[[int], None] | None = None,
    seed: int = 7,
) -> tuple[int, int]:
    """Insert ``comments`` comments, ``pending`` of them waiting for review (spread evenly
    through time), each with a decision and a prediction. Answers (first id, last id)."""
    if not 0 <= pending <= comments:
        raise ValueError("pending must be between 0 and the number of comments")
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    with engine.connect() as connection:
        start, start_d, start_p = (
            (connection.scalar(select(func.max(_T[t].c.id))) or 0) + 1
            for t in ("comments", "decisions", "predictions")
        )
    now = utcnow()
    begin = now - timedelta(days=60)
    step = timedelta(days=60) / max(comments, 1)
    # Every k-th comment is pending (k fractional), so pending ones span the whole period.
    every = comments / pending if pending else 0.0
    next_pending = 0.0
    done = 0
    explanation = {
        "spam": [{"feature": "shop", "label": "the word shop", "weight": 1.2, "spans": [[26, 30]]}],
        "abuse": [],
    }
    while done < comments:
        size = min(batch, comments - done)
        rows_c: list[dict[str, Any]] = []
        rows_d: list[dict[str, Any]] = []
        rows_p: list[dict[str, Any]] = []
        for n in range(done, done + size):
            cid = start + n
            if pending and n >= next_pending:
                status, next_pending = Status.PENDING, next_pending + every
            else:
                status = rng.choices(
                    [Status.APPROVED, Status.SPAM, Status.REJECTED], weights=[85, 10, 5]
                )[0]
            spam = rng.random() * (0.5 if status is not Status.SPAM else 1.0)
            abuse = rng.random() * (0.4 if status is not Status.REJECTED else 1.0)
            codes = {
                Status.PENDING: "spam_uncertain,new_author",
                Status.APPROVED: "model_clear",
                Status.SPAM: "spam_score",
                Status.REJECTED: "abuse_score",
            }[status]
            created = begin + step * n
            author = n % 50_000
            rows_c.append(
                {
                    "id": cid,
                    "article_id": f"seed-{n % articles}",
                    "parent_id": None,
                    "author": f"Seed reader {author}",
                    "email": f"reader{author}@seed.example",
                    "url": "",
                    "content": f"{_TEXTS[n % len(_TEXTS)]} ({n})",
                    "status": status,
                    "ip": f"10.{(author >> 16) & 255}.{(author >> 8) & 255}.{author & 255}",
                    "user_agent": "seed",
                    "referrer": "",
                    "duplicate_key": hashlib.sha256(f"seed:{cid}".encode()).hexdigest(),
                    "spam_score": spam,
                    "abuse_score": abuse,
                    "reason_codes": f",{codes},",
                    "priority": round(rng.random(), 6) if status is Status.PENDING else 0.0,
                    "claimed_by": None,
                    "claim_expires_at": None,
                    "version": 1,
                    "open_reports": 0,
                    "created_at": created,
                    "updated_at": created,
                }
            )
            rows_d.append(
                {
                    "id": start_d + n,
                    "comment_id": cid,
                    "actor": "system",
                    "moderator_id": None,
                    "status": status,
                    "reasons": [{"code": c, "detail": ""} for c in codes.split(",")],
                    "undoes_id": None,
                    "created_at": created,
                }
            )
            rows_p.append(
                {
                    "id": start_p + n,
                    "comment_id": cid,
                    "model_version": "seed",
                    "spam": spam,
                    "abuse": abuse,
                    "thresholds": _THRESHOLDS,
                    "explanation": explanation if status is Status.PENDING else None,
                    "created_at": created,
                }
            )
        with engine.begin() as connection:
            connection.execute(insert(_T["comments"]), rows_c)
            connection.execute(insert(_T["decisions"]), rows_d)
            connection.execute(insert(_T["predictions"]), rows_p)
        done += size
        if progress is not None:
            progress(done)
    if engine.dialect.name == "postgresql":
        # Explicit ids leave the sequences behind; intake must not collide with them.
        with engine.begin() as connection:
            for table in ("comments", "decisions", "predictions"):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT max(id) FROM {table}))"
                )
            connection.exec_driver_sql("ANALYZE comments")
    else:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    return start, start + comments - 1
