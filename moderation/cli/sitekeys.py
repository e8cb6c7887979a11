"""``moderation site-key``: the API keys of site backends."""

from __future__ import annotations

import click
from sqlalchemy.exc import IntegrityError

from moderation.cli.context import session_scope
from moderation.services.sitekeys import create_site_key, list_site_keys, revoke_site_key


@click.group("site-key")
def site_key() -> None:
    """API keys of site backends (Authorization: Bearer <key>)."""


@site_key.command("create")
@click.argument("name")
@click.option(
    "--long",
    "long_key",
    is_flag=True,
    help="A 48-character key instead of Akismet's 12 (not for the WordPress Akismet plugin).",
)
def site_key_create(name: str, long_key: bool) -> None:
    """Create a key for site NAME and print it (it is shown only once)."""
    try:
        with session_scope(commit=True) as session:
            _, key = create_site_key(session, name=name, long=long_key)
    except IntegrityError as exc:
        raise click.ClickException(f"a site key named {name!r} exists already") from exc
    click.echo(key)


@site_key.command("list")
def site_key_list() -> None:
    """List site keys: name, when created, and whether revoked (keys are never shown again)."""
    with session_scope() as session:
        for row in list_site_keys(session):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            click.echo(f"{row.name:<24} created {row.created_at:%Y-%m-%d}  {state}")


@site_key.command("revoke")
@click.argument("name")
def site_key_revoke(name: str) -> None:
    """Revoke the key of site NAME."""
    with session_scope(commit=True) as session:
        if not revoke_site_key(session, name=name):
            raise click.ClickException(f"no active site key named {name!r}")
    click.echo(f"revoked {name}")
