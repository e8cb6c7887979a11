"""API keys for site backends: created from the CLI, stored as sha256, shown once."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.db import utcnow
from moderation.tables import SiteKey

_PREFIX = "mod_"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_site_key(session: Session, *, name: str) -> tuple[SiteKey, str]:
    """Create a key for site ``name``; returns the row and the key (not stored anywhere)."""
    key = _PREFIX + secrets.token_urlsafe(32)
    row = SiteKey(name=name, key_hash=_digest(key), created_at=utcnow())
    session.add(row)
    session.flush()
    return row, key


def find_site_key(session: Session, key: str) -> SiteKey | None:
    """The active key row for ``key``, or ``None``."""
    if not key or len(key) > 200:
        return None
    return session.scalar(
        select(SiteKey).where(SiteKey.key_hash == _digest(key), SiteKey.revoked_at.is_(None))
    )


def revoke_site_key(session: Session, *, name: str) -> bool:
    """Revoke the key of site ``name``; False when there is none."""
    row = session.scalar(select(SiteKey).where(SiteKey.name == name))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True
