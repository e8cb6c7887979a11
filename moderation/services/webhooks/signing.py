"""Webhook signatures in the Standard Webhooks scheme, made and checked by its maintained package
(``standardwebhooks``), so receivers can use any of the scheme's libraries (docs/webhooks.md)."""

from __future__ import annotations

import base64
import secrets as random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from standardwebhooks import Webhook, WebhookVerificationError

PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh secret as the scheme writes them: ``whsec_`` and 32 random bytes in base64."""
    return PREFIX + base64.b64encode(random.token_bytes(32)).decode()


def _webhook(secret: str) -> Webhook:
    """A ``whsec_`` secret is base64, as the scheme says; any other string is the key as it is
    (its UTF-8 bytes), so a plain shared secret keeps working."""
    return Webhook(secret if secret.startswith(PREFIX) else secret.encode())


def signed_headers(
    message_id: str, body: bytes, timestamp: int, secrets: Sequence[str]
) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and, with secrets, ``webhook-signature``: one
    ``v1,<base64>`` per secret, space-separated, so secrets rotate."""
    headers = {"webhook-id": message_id, "webhook-timestamp": str(timestamp)}
    sent_at = datetime.fromtimestamp(timestamp, UTC)
    signatures = [_webhook(s).sign(message_id, sent_at, body.decode()) for s in secrets if s]
    if signatures:
        headers["webhook-signature"] = " ".join(signatures)
    return headers


def verify_signature(
    body: bytes | str, headers: Mapping[str, str], secrets: Sequence[str] | str
) -> bool:
    """True when ``headers`` carry a signature of ``body`` made with one of ``secrets`` less
    than five minutes from now (the scheme's tolerance). For receivers written in Python."""
    if isinstance(secrets, str):
        secrets = [secrets]
    plain = dict(headers.items())
    for secret in secrets:
        if not secret:
            continue
        try:
            _webhook(secret).verify(body, plain, json_parse=False)
        except (WebhookVerificationError, ValueError):  # ValueError: a malformed signature
            continue
        return True
    return False
