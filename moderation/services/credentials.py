"""Secrets handed out once (site keys, moderator API tokens) are kept only as digests."""

from __future__ import annotations

import hashlib


def digest(secret: str) -> str:
    """The sha256 of ``secret`` in hexadecimal: what is stored, and what a secret is looked up
    by."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
