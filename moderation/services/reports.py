"""Readers' reports on published comments.

One report per reader and comment (a reader is a keyed hash of their address, so the address
itself is not kept); each report raises the comment's ``open_reports``, which puts it on the
queue's "reported" tab, most reported first, until a moderator decides it (any decision handles
its reports, see ``review_queue.record_decision``).
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from moderation.domain.errors import ConflictError, NotFoundError, ValidationFailedError
from moderation.domain.policy import Status
from moderation.storage.db import utcnow
from moderation.storage.tables import Comment, Report

REASONS = {
    "spam": "Spam or advertising",
    "abuse": "Abusive, hateful or threatening",
    "off_topic": "Off topic",
    "other": "Something else",
}
DETAIL_MAX = 500


def reader_key(secret: str, address: str) -> str:
    """Who reported, without keeping their address: a keyed hash of it."""
    return hmac.new(secret.encode(), f"reader:{address}".encode(), hashlib.sha256).hexdigest()


def validate(reason: object, detail: object) -> tuple[str, str]:
    """The report's reason code and detail text.

    :raises ValidationFailedError: an unknown reason, or a detail that is too long.
    """
    errors = []
    if not isinstance(reason, str) or reason not in REASONS:
        errors.append(
            {
                "field": "reason",
                "code": "invalid_reason",
                "message": "Choose why you report this comment: " + ", ".join(REASONS) + ".",
            }
        )
    text = detail if isinstance(detail, str) else ""
    if detail is not None and not isinstance(detail, str):
        errors.append({"field": "detail", "code": "invalid_detail", "message": "Send text."})
    if len(text) > DETAIL_MAX:
        errors.append(
            {
                "field": "detail",
                "code": "detail_too_long",
                "message": f"Please say it in at most {DETAIL_MAX} characters.",
            }
        )
    if errors:
        raise ValidationFailedError(errors)
    return str(reason), text.strip()


def report_comment(
    session: Session, *, comment_id: int, reader: str, reason: str, detail: str = ""
) -> Comment:
    """Record a reader's report on a published comment (flushed, not committed).

    :raises NotFoundError: no such comment, or it is not published.
    :raises ConflictError: this reader reported this comment before.
    """
    comment = session.get(Comment, comment_id)
    if comment is None or comment.status is not Status.APPROVED:
        raise NotFoundError("No such published comment.")
    already = session.scalar(
        select(Report.id).where(Report.comment_id == comment_id, Report.reader == reader)
    )
    if already is not None:
        raise ConflictError("You have reported this comment already. Thank you.")
    try:
        with session.begin_nested():
            session.add(
                Report(
                    comment_id=comment_id,
                    reader=reader,
                    reason=reason,
                    detail=detail[:DETAIL_MAX],
                    created_at=utcnow(),
                )
            )
    except IntegrityError:  # the same reader's second click raced the first
        raise ConflictError("You have reported this comment already. Thank you.") from None
    # Not a new version: a report must not make a moderator's open page stale.
    session.execute(
        update(Comment)
        .where(Comment.id == comment_id)
        .values(open_reports=Comment.open_reports + 1)
        .execution_options(synchronize_session=False)
    )
    return comment
