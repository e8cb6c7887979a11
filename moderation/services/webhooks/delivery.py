"""Delivering the outbox: lease due events, POST them signed, record the outcome with backoff,
and the long-running deliverer (``moderation webhooks deliver``)."""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from moderation.services.webhooks.outbox import body_of
from moderation.services.webhooks.signing import signed_headers
from moderation.storage.db import utcnow
from moderation.storage.tables import WebhookEvent

log = logging.getLogger(__name__)

BATCH_SIZE = 50
MAX_BACKOFF_SECONDS = 3600
USER_AGENT = "moderation-webhooks/1"
_LAST_ERROR_LENGTH = 500


class Client(Protocol):
    """Sends one request; returns the HTTP status, raises ``OSError`` when there is none."""

    def __call__(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> int: ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer like any other non-2xx: not delivered


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
    """POST with the standard library (no redirects followed)."""
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError("the webhook URL must be http:// or https://")
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310 - scheme checked above
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(64 * 1024)
            return int(response.status)
    except urllib.error.HTTPError as error:
        try:
            return int(error.code)
        finally:
            error.close()


@dataclass(frozen=True)
class _Claimed:
    id: int
    event: str
    payload: dict[str, Any]
    attempts: int


@dataclass
class DeliveryReport:
    """What one pass did."""

    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    gave_up: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        """Add another pass's counts to these."""
        self.claimed += other.claimed
        self.delivered += other.delivered
        self.retrying += other.retrying
        self.gave_up += other.gave_up
        self.errors.extend(other.errors)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt: 2^attempts s, at most 1 h."""
    return timedelta(seconds=min(2 ** min(attempts, 32), MAX_BACKOFF_SECONDS))


def _due(now: datetime, max_attempts: int) -> tuple[Any, ...]:
    return (
        WebhookEvent.delivered_at.is_(None),
        WebhookEvent.next_attempt_at <= now,
        WebhookEvent.attempts < max_attempts,
    )


def claim_due(
    session: Session,
    *,
    now: datetime,
    limit: int = BATCH_SIZE,
    max_attempts: int = 20,
    lease: timedelta,
) -> list[_Claimed]:
    """Take up to ``limit`` due events, oldest first, and lease them (committed).

    Rows another deliverer has locked are skipped (PostgreSQL); the lease (``next_attempt_at``
    moved to ``now + lease``) keeps the others away until this one records the outcome.
    """
    try:
        rows = session.execute(
            select(WebhookEvent.id, WebhookEvent.event, WebhookEvent.payload, WebhookEvent.attempts)
            .where(*_due(now, max_attempts))
            .order_by(WebhookEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        claimed = [_Claimed(r.id, r.event, dict(r.payload), r.attempts) for r in rows]
        if claimed:
            session.execute(
                update(WebhookEvent)
                .where(WebhookEvent.id.in_([c.id for c in claimed]))
                .values(next_attempt_at=now + lease)
                .execution_options(synchronize_session=False)
            )
        session.commit()
    except Exception:
        session.rollback()
        raise
    return claimed


def _send(
    item: _Claimed, *, url: str, secrets: Sequence[str], client: Client, timeout: float
) -> str | None:
    """Send one event; ``None`` when it was delivered, else what went wrong."""
    body = body_of(item.id, item.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Moderation-Event": item.event,
        **signed_headers(str(item.id), body, int(time.time()), secrets),
    }
    try:
        status = client(url, body, headers, timeout)
    except TimeoutError:
        return f"timed out after {timeout:g} s"
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return f"timed out after {timeout:g} s"
        return f"connection failed: {reason}"
    except Exception as exc:  # any failure to get an answer is a failed attempt
        return f"connection failed: {exc.__class__.__name__}: {exc}"
    if 200 <= status < 300:
        return None
    return f"HTTP {status}"


def _record(
    session: Session, item: _Claimed, error: str | None, *, at: datetime, max_attempts: int
) -> str:
    """Store one attempt's outcome (committed): 'delivered', 'retrying' or 'gave_up'."""
    attempts = item.attempts + 1
    values: dict[str, Any] = {"attempts": attempts}
    if error is None:
        outcome = "delivered"
        values.update(delivered_at=at, last_error="")
    elif attempts >= max_attempts:
        outcome = "gave_up"
        values.update(
            next_attempt_at=at,
            last_error=f"gave up after {attempts} attempts, no more retries; last: {error}",
        )
    else:
        outcome = "retrying"
        values.update(
            next_attempt_at=at + backoff(attempts), last_error=f"attempt {attempts}: {error}"
        )
    if "last_error" in values:
        values["last_error"] = values["last_error"][:_LAST_ERROR_LENGTH]
    try:
        session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id == item.id, WebhookEvent.delivered_at.is_(None))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    except Exception:
        session.rollback()
        raise
    return outcome


def _release(session: Session, items: Sequence[_Claimed], *, at: datetime) -> None:
    """Give leased but unsent events back (due at once)."""
    if not items:
        return
    try:
        session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id.in_([i.id for i in items]), WebhookEvent.delivered_at.is_(None))
            .values(next_attempt_at=at)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    except Exception:
        session.rollback()
        raise


def deliver_due(
    session: Session,
    *,
    url: str,
    secrets: Sequence[str],
    now: datetime | None = None,
    client: Client | None = None,
    timeout: float = 5.0,
    max_attempts: int = 20,
    limit: int = BATCH_SIZE,
    should_stop: Callable[[], bool] | None = None,
) -> DeliveryReport:
    """One pass: send the due events (oldest first, at most ``limit``) and record each outcome.

    This commits, several times (give it a session of its own): the batch is leased in one
    short transaction, each outcome is stored in another, and no transaction is open while a
    receiver answers.

    :param secrets: the signing secrets; every one is listed in the signature header.
    :param now: the time to act at (default: the current time; tests move it).
    :param client: what sends a request (default: :func:`post`, urllib).
    :param should_stop: checked between events; when true, the unsent events are given back.
    """
    if isinstance(secrets, str):
        secrets = [secrets]
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError("the webhook URL must be http:// or https://")

    def clock() -> datetime:
        return now if now is not None else utcnow()

    send = client or post
    lease = timedelta(seconds=timeout * (limit + 1) + 60)
    claimed = claim_due(session, now=clock(), limit=limit, max_attempts=max_attempts, lease=lease)
    report = DeliveryReport(claimed=len(claimed))
    for index, item in enumerate(claimed):
        if should_stop is not None and should_stop():
            _release(session, claimed[index:], at=clock())
            break
        error = _send(item, url=url, secrets=secrets, client=send, timeout=timeout)
        outcome = _record(session, item, error, at=clock(), max_attempts=max_attempts)
        if outcome == "delivered":
            report.delivered += 1
        elif outcome == "retrying":
            report.retrying += 1
            log.warning("webhook %s (%s) not delivered: %s", item.id, item.event, error)
        else:
            report.gave_up += 1
            log.error(
                "webhook %s (%s) given up after %s attempts: %s",
                item.id,
                item.event,
                item.attempts + 1,
                error,
            )
        if error is not None:
            report.errors.append(f"{item.id}: {error}")
    return report


def run_deliverer(
    maker: sessionmaker[Session],
    config: Mapping[str, Any],
    *,
    once: bool = False,
    interval: float = 2.0,
    should_stop: Callable[[], bool] = lambda: False,
    client: Client | None = None,
) -> DeliveryReport:
    """Deliver the outbox of the database of ``maker``'s sessions, with the webhook settings
    of ``config`` (``WEBHOOK_URL``, ``WEBHOOK_SECRETS``, ...), until ``should_stop()`` (or
    one pass, ``once``).

    A full batch is followed at once by the next one; otherwise the deliverer waits
    ``interval`` seconds. A failing pass (the database away, say) is logged and retried after
    the interval, except with ``once``, where it is raised.
    """
    url = config.get("WEBHOOK_URL")
    if not url:
        raise ValueError("MODERATION_WEBHOOK_URL is not set")
    secrets = list(config.get("WEBHOOK_SECRETS") or [])
    if not secrets:
        log.warning("MODERATION_WEBHOOK_SECRETS is empty: webhooks are sent unsigned")
    total = DeliveryReport()
    while True:
        full = False
        try:
            with maker() as session:
                report = deliver_due(
                    session,
                    url=url,
                    secrets=secrets,
                    client=client,
                    timeout=float(config["WEBHOOK_TIMEOUT"]),
                    max_attempts=int(config["WEBHOOK_MAX_ATTEMPTS"]),
                    should_stop=should_stop,
                )
            total.add(report)
            full = report.claimed >= BATCH_SIZE
            if report.claimed:
                log.info(
                    "webhooks: %s delivered, %s to retry, %s given up",
                    report.delivered,
                    report.retrying,
                    report.gave_up,
                )
        except Exception:
            if once:
                raise
            log.exception("webhook delivery pass failed; trying again in %s s", interval)
        if once or should_stop():
            return total
        if not full:
            deadline = time.monotonic() + interval
            while not should_stop() and time.monotonic() < deadline:
                time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        if should_stop():
            return total
