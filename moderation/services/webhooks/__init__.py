"""Signed webhooks to the site, delivered from an outbox: signing (:mod:`.signing`), the outbox
(:mod:`.outbox`) and its delivery (:mod:`.delivery`). What a receiver gets: docs/webhooks.md."""

from moderation.services.webhooks.delivery import (
    DeliveryReport,
    backoff,
    claim_due,
    deliver_due,
    post,
    run_deliverer,
)
from moderation.services.webhooks.outbox import (
    EVENTS,
    HELD,
    PUBLISHED,
    REJECTED,
    body_of,
    comment_json,
    enqueue,
    enqueue_status,
    enqueue_statuses,
    event_for,
    event_row,
    outbox_status,
    retry_failed,
)
from moderation.services.webhooks.signing import (
    key_of,
    new_secret,
    signed_headers,
    verify_signature,
)

__all__ = [
    "EVENTS",
    "HELD",
    "PUBLISHED",
    "REJECTED",
    "DeliveryReport",
    "backoff",
    "body_of",
    "claim_due",
    "comment_json",
    "deliver_due",
    "enqueue",
    "enqueue_status",
    "enqueue_statuses",
    "event_for",
    "event_row",
    "key_of",
    "new_secret",
    "outbox_status",
    "post",
    "retry_failed",
    "run_deliverer",
    "signed_headers",
    "verify_signature",
]
