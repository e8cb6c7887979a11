"""The reference that ``bench_intake.py`` compares the intake with: Flask plus one ORM insert.

One route, ``POST /comments``: read the JSON body, open a new SQLAlchemy session, add one row
holding the comment's fields, flush, commit, answer a small 201 JSON. No validation, rules, model
or rate limits. The engine is the service's own (``moderation.storage.db.make_engine``), so both run
with the same database settings (SQLite: WAL, ``synchronous`` as the service's
(``REFERENCE_SQLITE_SYNCHRONOUS``, FULL by default), ``BEGIN IMMEDIATE``; PostgreSQL: the same
pool and timeouts).

    REFERENCE_DATABASE_URL=sqlite:////tmp/ref.db \
        gunicorn --workers 2 --bind 127.0.0.1:8001 --chdir benchmarks reference_app:app
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from flask import Flask, jsonify, request
from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from werkzeug.wrappers import Response

from moderation.storage.db import make_engine


class Base(DeclarativeBase):
    """The reference's one table."""


class ReferenceComment(Base):
    """A comment as posted, nothing else."""

    __tablename__ = "reference_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[str] = mapped_column(String(100))
    author: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    url: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


engine = make_engine(
    os.environ["REFERENCE_DATABASE_URL"],
    sqlite_synchronous=os.environ.get("REFERENCE_SQLITE_SYNCHRONOUS", "FULL"),
)
Base.metadata.create_all(engine)
engine.dispose()  # each gunicorn worker opens its own connections

app = Flask(__name__)


@app.post("/comments")
def post_comment() -> tuple[Response, int]:
    """Store the posted comment with one ORM insert and answer 201."""
    data = request.get_json(force=True, silent=True)
    data = data if isinstance(data, dict) else {}
    with Session(engine) as session:
        row = ReferenceComment(
            article_id=str(data.get("article_id", ""))[:100],
            author=str(data.get("author", ""))[:100],
            email=str(data.get("email", ""))[:254],
            url=str(data.get("url", ""))[:200],
            content=str(data.get("content", "")),
            created_at=datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        session.commit()
        return jsonify({"id": row.id, "status": "pending"}), 201
