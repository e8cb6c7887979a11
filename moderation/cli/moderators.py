"""``moderation moderator``: moderator accounts and their API tokens."""

from __future__ import annotations

import sys

import click

from moderation.cli.context import session_scope
from moderation.domain.policy import Role
from moderation.services.moderators import (
    create_moderator,
    create_token,
    disable_moderator,
    enable_moderator,
    list_moderators,
    revoke_tokens,
    set_password,
)


@click.group()
def moderator() -> None:
    """Moderator accounts and API tokens."""


def _read_password(confirm: bool) -> str:
    if sys.stdin is not None and not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=confirm))


@moderator.command("create")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["moderator", "admin"]),
    default="moderator",
    show_default=True,
    help="Admins may also see and manage other moderators' work.",
)
def moderator_create(name: str, role: str) -> None:
    """Create moderator NAME; the password comes from a prompt or the first line of stdin."""
    password = _read_password(confirm=True)
    with session_scope(commit=True) as session:
        create_moderator(session, name=name, role=Role(role), password=password)
    click.echo(f"created {role} {name}")


@moderator.command("list")
def moderator_list() -> None:
    """List moderator accounts: name, role, and whether disabled."""
    with session_scope() as session:
        for account in list_moderators(session):
            state = "disabled" if account.disabled_at else "active"
            click.echo(f"{account.name:<24} {account.role.value:<10} {state}")


@moderator.command("enable")
@click.argument("name")
def moderator_enable(name: str) -> None:
    """Let disabled moderator NAME sign in again."""
    with session_scope(commit=True) as session:
        enable_moderator(session, name=name)
    click.echo(f"enabled {name}")


@moderator.command("reset-password")
@click.argument("name")
def moderator_reset_password(name: str) -> None:
    """Set a new password for NAME (from a prompt or the first line of stdin)."""
    password = _read_password(confirm=True)
    with session_scope(commit=True) as session:
        set_password(session, name=name, password=password)
    click.echo(f"new password set for {name}")


@moderator.command("token")
@click.argument("name")
def moderator_token(name: str) -> None:
    """Print a new API token for moderator NAME (send it as Authorization: Bearer ...)."""
    with session_scope(commit=True) as session:
        token = create_token(session, name=name)
    click.echo(token)


@moderator.command("disable")
@click.argument("name")
def moderator_disable(name: str) -> None:
    """Lock moderator NAME out: their sign-in sessions and API tokens stop working at once."""
    with session_scope(commit=True) as session:
        disable_moderator(session, name=name)
    click.echo(f"disabled {name}")


@moderator.command("revoke-tokens")
@click.argument("name")
def moderator_revoke_tokens(name: str) -> None:
    """Revoke every API token of moderator NAME."""
    with session_scope(commit=True) as session:
        count = revoke_tokens(session, name=name)
    click.echo(f"revoked {count} token(s) of {name}")
