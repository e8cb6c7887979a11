"""Webhook signatures: how a body is signed, and how a receiver checks it (docs/webhooks.md)."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

DEFAULT_TOLERANCE = 300


def sign(body: bytes, timestamp: int, secret: str) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` keyed with ``secret``."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(body: bytes, timestamp: int, secrets: Sequence[str]) -> str:
    """``v1=<hex>,v1=<hex>``: one entry per secret, the first secret's first."""
    return ",".join(f"v1={sign(body, timestamp, secret)}" for secret in secrets)


def verify_signature(
    body: bytes | str,
    timestamp: str | int,
    header: str,
    secrets: Sequence[str] | str,
    tolerance: float = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> bool:
    """True when ``header`` holds a ``v1=`` signature of ``body`` at ``timestamp`` made with
    one of ``secrets``, and ``timestamp`` is within ``tolerance`` seconds of ``now`` (default:
    the current time). For receivers; see the module docstring.

    :param body: the raw request body, exactly as received.
    :param timestamp: the ``X-Moderation-Timestamp`` header.
    :param header: the ``X-Moderation-Signature`` header.
    """
    if isinstance(secrets, str):
        secrets = [secrets]
    if isinstance(body, str):
        body = body.encode()
    text = str(timestamp).strip()
    if not text.isdigit() or len(text) > 12:  # unix seconds; anything longer is not a time
        return False
    sent_at = int(text)
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        return False
    given = [
        entry.strip()[3:] for entry in (header or "").split(",") if entry.strip().startswith("v1=")
    ]
    return any(
        hmac.compare_digest(sign(body, sent_at, secret).encode(), candidate.encode())
        for secret in secrets
        if secret
        for candidate in given
    )
