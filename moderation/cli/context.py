"""What every command that touches the database shares: the configured app and one session.

Each command builds the app from the ``MODERATION_*`` environment (with the fixed scorer unless
it needs the model), works in one session and commits once, at the end, like a view.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from typing import Any

import click
from flask import Flask
from sqlalchemy.orm import Session

from moderation.domain.errors import ModerationError
from moderation.web.config import ConfigError
from moderation.web.database import get_session


def cli_app(**overrides: Any) -> Flask:
    """The app for a CLI command (the secret is only needed to serve requests)."""
    from moderation.web.app import create_app

    overrides.setdefault("SCORER_BACKEND", "fixed")
    if not os.environ.get("MODERATION_SECRET_KEY"):
        overrides.setdefault("SECRET_KEY", secrets.token_hex(32))
    try:
        return create_app(overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@contextlib.contextmanager
def session_scope(app: Flask | None = None, *, commit: bool = False) -> Iterator[Session]:
    """A session of the configured app (or of ``app``) for one command.

    With ``commit``, the work is committed when the block ends without an error. A service's
    refusal (a :class:`ModerationError`, such as an unknown moderator) ends the command with
    its message and nothing committed.
    """
    with (app or cli_app()).app_context():
        session = get_session()
        try:
            yield session
        except ModerationError as exc:
            raise click.ClickException(exc.message) from exc
        if commit:
            session.commit()
