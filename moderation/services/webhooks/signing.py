"""Webhook signatures in the Standard Webhooks scheme, made and checked by its maintained package
(``standardwebhooks``), so receivers can use any of the scheme's libraries (docs/webhooks.md)."""

from __future__ import annotations

import base64
import binascii
import secrets as random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from standardwebhooks import Webhook, WebhookVerificationError

PREFIX = "whsec_"
MIN_SCHEME_KEY_BYTES = 24  # the scheme's shortest key


def new_secret() -> str:
    """A fresh secret as the scheme writes them: ``whsec_`` and 32 random bytes in base64."""
    return PREFIX + base64.b64encode(random.token_bytes(32)).decode()


def key_of(secret: str) -> bytes:
    """The HMAC key of a secret: a ``whsec_`` secret is base64, as the scheme says (strictly:
    :class:`ValueError` unless it is valid and at least 24 bytes long); any other string is the
    key as it is (its UTF-8 bytes), so a plain shared secret keeps working."""
    if not secret.startswith(PREFIX):
        if not secret:
            raise ValueError("a webhook secret may not be empty")
        return secret.encode()
    try:
        key = base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    except binascii.Error:
        raise ValueError("a whsec_ webhook secret must be base64 after whsec_") from None
    if len(key) < MIN_SCHEME_KEY_BYTES:
        raise ValueError(f"a whsec_ webhook secret must hold at least {MIN_SCHEME_KEY_BYTES} bytes")
    return key


def signed_headers(
    message_id: str, body: bytes, timestamp: int, secrets: Sequence[str]
) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and, with secrets, ``webhook-signature``: one
    ``v1,<base64>`` per secret, space-separated, so secrets rotate."""
    headers = {"webhook-id": message_id, "webhook-timestamp": str(timestamp)}
    sent_at = datetime.fromtimestamp(timestamp, UTC)
    signatures = [Webhook(key_of(s)).sign(message_id, sent_at, body.decode()) for s in secrets if s]
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
            Webhook(key_of(secret)).verify(body, plain, json_parse=False)
        except (WebhookVerificationError, ValueError):
            # ValueError: a malformed secret or signature entry. The library stops at the first
            # malformed entry, so one hides any later ones; the service never sends such.
            continue
        return True
    return False
