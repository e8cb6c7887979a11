"""Labels that sites send back through the compatibility APIs (training data, once reviewed).

One label per site and text: sending the same text again updates its label instead of adding
one. A site may send at most ``daily_cap`` new labels a day. Labels wait as ``pending`` until a
moderator accepts or rejects them (``moderation labels``); only accepted ones join training,
where their total weight is bounded, so no site can steer the model by volume.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from moderation.domain.errors import ModerationError
from moderation.ml.datasets import Example
from moderation.storage.db import utcnow
from moderation.storage.tables import FeedbackLabel, SiteKey

PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"
STATUSES = (PENDING, ACCEPTED, REJECTED)


class LabelCapError(ModerationError):
    """A site sent more new labels today than it may."""

    status_code = 429
    code = "label_cap"
    message = "This key has sent as many labels as it may today; try again tomorrow."

    def headers(self) -> dict[str, str]:
        """When to try again (a day, at most)."""
        return {"Retry-After": "3600"}


def content_digest(content: str) -> str:
    """sha256 of the text, lower-cased with its spacing collapsed: one label per text."""
    return hashlib.sha256(" ".join(content.lower().split()).encode("utf-8")).hexdigest()


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
    daily_cap: int = 0,
) -> FeedbackLabel:
    """Store or update one label (flushed, not committed); a changed label is pending again.

    :raises LabelCapError: ``daily_cap`` (> 0) new labels from this site in the last 24 hours.
    """
    digest = content_digest(content)
    site_id = site.id if site is not None else None
    label = session.scalar(
        select(FeedbackLabel).where(
            FeedbackLabel.site_key_id.is_(None)
            if site_id is None
            else FeedbackLabel.site_key_id == site_id,
            FeedbackLabel.content_digest == digest,
        )
    )
    now = utcnow()
    if label is None:
        if daily_cap > 0 and site_id is not None:
            today = session.scalar(
                select(func.count())
                .select_from(FeedbackLabel)
                .where(
                    FeedbackLabel.site_key_id == site_id,
                    FeedbackLabel.created_at > now - timedelta(days=1),
                )
            )
            if (today or 0) >= daily_cap:
                raise LabelCapError()
        label = FeedbackLabel(source=source, site_key_id=site_id, content_digest=digest)
        session.add(label)
    elif (label.spam, label.abuse) != (spam, abuse):
        label.status = PENDING  # a changed mind is reviewed again
    label.content = content
    label.author = author[:245]
    label.email = email[:100]
    label.url = url[:200]
    label.spam = spam
    label.abuse = abuse
    label.created_at = now
    if label.status is None:
        label.status = PENDING
    session.flush()
    return label


def list_labels(
    session: Session, *, site: str | None = None, status: str | None = None, limit: int = 100
) -> Sequence[FeedbackLabel]:
    """Labels, newest first, optionally of one site (by key name) and status."""
    query = select(FeedbackLabel).order_by(FeedbackLabel.id.desc()).limit(limit)
    if site is not None:
        query = query.join(SiteKey, SiteKey.id == FeedbackLabel.site_key_id).where(
            SiteKey.name == site
        )
    if status is not None:
        query = query.where(FeedbackLabel.status == status)
    return session.scalars(query).all()


def _selected(site: str | None, ids: Sequence[int]) -> list[object]:
    clauses: list[object] = []
    if ids:
        clauses.append(FeedbackLabel.id.in_(ids))
    if site is not None:
        clauses.append(
            FeedbackLabel.site_key_id.in_(select(SiteKey.id).where(SiteKey.name == site))
        )
    return clauses


def set_status(
    session: Session, *, status: str, site: str | None = None, ids: Sequence[int] = ()
) -> int:
    """Accept or reject the given labels (by id, or every pending one of a site)."""
    if status not in (ACCEPTED, REJECTED):
        raise ValueError(f"unknown status {status!r}")
    if not ids and site is None:
        raise ValueError("name the labels (ids) or a site")
    labels = session.scalars(
        select(FeedbackLabel).where(
            *_selected(site, ids),  # type: ignore[arg-type]
            *([] if ids else [FeedbackLabel.status == PENDING]),
        )
    ).all()
    for label in labels:
        label.status = status
    session.flush()
    return len(labels)


def purge(session: Session, *, site: str) -> int:
    """Delete every label of a site (a site that flooded or mislabelled)."""
    result = session.execute(delete(FeedbackLabel).where(*_selected(site, ())))  # type: ignore[arg-type]
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def feedback_examples(session: Session) -> list[Example]:
    """Every accepted label as a training example (data set ``feedback``)."""
    rows = session.scalars(
        select(FeedbackLabel).where(FeedbackLabel.status == ACCEPTED).order_by(FeedbackLabel.id)
    ).all()
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


def feedback_counts(
    session: Session, *, site: SiteKey, since: datetime | None = None
) -> dict[str, int]:
    """How many spam and ham labels a site sent (since ``since``)."""
    query = select(FeedbackLabel.spam, func.count()).where(
        FeedbackLabel.site_key_id == site.id, FeedbackLabel.spam.is_not(None)
    )
    if since is not None:
        query = query.where(FeedbackLabel.created_at >= since)
    counts = dict(session.execute(query.group_by(FeedbackLabel.spam)).all())
    return {"spam": int(counts.get(1, 0)), "ham": int(counts.get(0, 0))}
