"""Moderator accounts, passwords and API tokens."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from moderation.domain.errors import ModerationError
from moderation.domain.policy import Role
from moderation.services.credentials import digest
from moderation.storage.db import utcnow
from moderation.storage.tables import ApiToken, Moderator

_TOKEN_PREFIX = "modtok_"  # noqa: S105 - a prefix, not a secret
MIN_PASSWORD = 8
# Checked against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password")


class AccountError(ModerationError):
    """A moderator account cannot be created or used as asked."""

    code = "account_error"


def create_moderator(session: Session, *, name: str, role: Role, password: str) -> Moderator:
    """A new account; the password is stored as a salted scrypt hash."""
    name = name.strip()
    if not name or len(name) > 100:
        raise AccountError("A moderator name has 1 to 100 characters.")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"A password has at least {MIN_PASSWORD} characters.")
    if session.scalar(select(Moderator.id).where(Moderator.name == name)) is not None:
        raise AccountError(f"A moderator named {name!r} exists already.")
    moderator = Moderator(
        name=name, role=role, password_hash=generate_password_hash(password), created_at=utcnow()
    )
    session.add(moderator)
    session.flush()
    return moderator


def authenticate(session: Session, *, name: str, password: str) -> Moderator | None:
    """The active moderator with this name and password, else ``None``."""
    moderator = session.scalar(select(Moderator).where(Moderator.name == name.strip()))
    if moderator is None or moderator.disabled_at is not None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return moderator if check_password_hash(moderator.password_hash, password) else None


def create_token(session: Session, *, name: str) -> str:
    """A new API token for moderator ``name`` (only its hash is stored)."""
    moderator = _named(session, name)
    token = _TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(moderator_id=moderator.id, token_hash=digest(token), created_at=utcnow()))
    session.flush()
    return token


def moderator_for_token(session: Session, token: str) -> Moderator | None:
    """The active moderator a token belongs to, else ``None``."""
    if not token.startswith(_TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == digest(token), ApiToken.revoked_at.is_(None))
    )
    if row is None or row.moderator.disabled_at is not None:
        return None
    return row.moderator


def _named(session: Session, name: str) -> Moderator:
    moderator = session.scalar(select(Moderator).where(Moderator.name == name))
    if moderator is None:
        raise AccountError(f"No moderator named {name!r}.")
    return moderator


def disable_moderator(session: Session, *, name: str) -> None:
    """Lock an account out: its sign-in sessions end for good, its tokens while it is locked
    (both are checked on every request)."""
    moderator = _named(session, name)
    moderator.disabled_at = moderator.disabled_at or utcnow()
    moderator.session_generation += 1  # enabling it again does not bring old sessions back
    session.flush()


def revoke_tokens(session: Session, *, name: str) -> int:
    """Revoke all of a moderator's API tokens; returns how many were active."""
    moderator = _named(session, name)
    tokens = session.scalars(
        select(ApiToken).where(ApiToken.moderator_id == moderator.id, ApiToken.revoked_at.is_(None))
    ).all()
    for token in tokens:
        token.revoked_at = utcnow()
    session.flush()
    return len(tokens)


def list_moderators(session: Session) -> Sequence[Moderator]:
    """Every account, by name."""
    return session.scalars(select(Moderator).order_by(Moderator.name)).all()


def enable_moderator(session: Session, *, name: str) -> None:
    """Let a disabled account in again (its old tokens stay revoked if they were)."""
    _named(session, name).disabled_at = None
    session.flush()


def set_password(session: Session, *, name: str, password: str) -> None:
    """Give an account a new password; every sign-in session made before ends."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"A password has at least {MIN_PASSWORD} characters.")
    moderator = _named(session, name)
    moderator.password_hash = generate_password_hash(password)
    moderator.session_generation += 1
    session.flush()
