"""API keys for site backends: created from the CLI, stored as sha256, shown once."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.services.credentials import digest
from moderation.storage.db import utcnow
from moderation.storage.tables import SiteKey

# 12 lower-case hexadecimal characters: what the WordPress Akismet plugin accepts as a key, and
# what a host name can carry (akismet-api sends the key as KEY.rest.akismet.com). Site keys
# guard a rate-limited API; a backend that wants more can ask for a long key.
SHORT_KEY_BYTES = 6
LONG_KEY_BYTES = 24


def create_site_key(session: Session, *, name: str, long: bool = False) -> tuple[SiteKey, str]:
    """Create a key for site ``name``; returns the row and the key (not stored anywhere).

    The key is hexadecimal: 12 characters (Akismet's form), or 48 with ``long``.
    """
    key = secrets.token_hex(LONG_KEY_BYTES if long else SHORT_KEY_BYTES)
    row = SiteKey(name=name, key_hash=digest(key), created_at=utcnow())
    session.add(row)
    session.flush()
    return row, key


def find_site_key(session: Session, key: str) -> SiteKey | None:
    """The active key row for ``key``, or ``None``."""
    if not key or len(key) > 200:
        return None
    return session.scalar(
        select(SiteKey).where(SiteKey.key_hash == digest(key), SiteKey.revoked_at.is_(None))
    )


def revoke_site_key(session: Session, *, name: str) -> bool:
    """Revoke the key of site ``name``; False when there is none."""
    row = session.scalar(select(SiteKey).where(SiteKey.name == name))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def list_site_keys(session: Session) -> Sequence[SiteKey]:
    """Every site key, by name (the keys themselves are not stored)."""
    return session.scalars(select(SiteKey).order_by(SiteKey.name)).all()
