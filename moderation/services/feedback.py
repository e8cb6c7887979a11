"""Labels that sites send back through the compatibility APIs (training data)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.db import utcnow
from moderation.ml.datasets import Example
from moderation.tables import FeedbackLabel, SiteKey


def record_label(
    session: Session,
    *,
    source: str,
    site: SiteKey | None,
    content: str,
    author: str = "",
    email: str = "",
    url: str = "",
    spam: int | None = None,
    abuse: int | None = None,
) -> FeedbackLabel:
    """Store one label (flushed, not committed)."""
    label = FeedbackLabel(
        source=source,
        site_key_id=site.id if site is not None else None,
        content=content,
        author=author[:245],
        email=email[:100],
        url=url[:200],
        spam=spam,
        abuse=abuse,
        created_at=utcnow(),
    )
    session.add(label)
    session.flush()
    return label


def feedback_examples(session: Session) -> list[Example]:
    """Every stored label as a training example (data set ``feedback``)."""
    rows = session.scalars(select(FeedbackLabel).order_by(FeedbackLabel.id)).all()
    return [
        Example(
            content=r.content,
            author=r.author,
            email=r.email,
            url=r.url,
            spam=r.spam,
            abuse=r.abuse,
            dataset="feedback",
            group=f"feedback:{r.id}",
        )
        for r in rows
        if r.content.strip()
    ]
