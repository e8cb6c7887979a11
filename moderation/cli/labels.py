"""``moderation labels``: review the labels sites sent back before they join training."""

from __future__ import annotations

import click
from sqlalchemy import select

from moderation.cli.context import session_scope
from moderation.services.feedback import list_labels, purge, set_status
from moderation.storage.tables import SiteKey


@click.group()
def labels() -> None:
    """Labels sites sent back (Akismet submit-spam/ham, Perspective suggestscore).

    They wait as pending until accepted here; only accepted labels join training.
    """


@labels.command("list")
@click.option("--site", default=None, help="Only the labels of this site key (its name).")
@click.option(
    "--status",
    type=click.Choice(["pending", "accepted", "rejected"]),
    default=None,
    help="Only labels in this state.",
)
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
def labels_list(site: str | None, status: str | None, limit: int) -> None:
    """List labels: id, state, site, label and the start of the text."""
    with session_scope() as session:
        names: dict[int | None, str] = {
            row.id: row.name for row in session.execute(select(SiteKey.id, SiteKey.name))
        }
        kinds = {(1, None): "spam", (0, None): "ham", (None, 1): "abuse", (None, 0): "civil"}
        for label in list_labels(session, site=site, status=status, limit=limit):
            kind = kinds.get((label.spam, label.abuse), f"spam={label.spam} abuse={label.abuse}")
            text = " ".join(label.content.split())[:60]
            click.echo(
                f"{label.id:>6}  {label.status:<8}  {names.get(label.site_key_id, '-'):<16}  "
                f"{kind:<6}  {text}"
            )


def _set_label_status(status: str, site: str | None, ids: tuple[int, ...]) -> None:
    if not ids and site is None:
        raise click.UsageError("give label ids, or --site NAME for all of its pending labels")
    with session_scope(commit=True) as session:
        changed = set_status(session, status=status, site=site, ids=ids)
    click.echo(f"{status} {changed} label(s)")


@labels.command("accept")
@click.argument("ids", nargs=-1, type=int)
@click.option("--site", default=None, help="Every pending label of this site key.")
def labels_accept(ids: tuple[int, ...], site: str | None) -> None:
    """Accept labels IDS (or all pending ones of --site) for training."""
    _set_label_status("accepted", site, ids)


@labels.command("reject")
@click.argument("ids", nargs=-1, type=int)
@click.option("--site", default=None, help="Every pending label of this site key.")
def labels_reject(ids: tuple[int, ...], site: str | None) -> None:
    """Reject labels IDS (or all pending ones of --site): they never train."""
    _set_label_status("rejected", site, ids)


@labels.command("purge")
@click.option("--site", required=True, help="The site key whose labels are deleted.")
def labels_purge(site: str) -> None:
    """Delete every label of a site key."""
    with session_scope(commit=True) as session:
        deleted = purge(session, site=site)
    click.echo(f"deleted {deleted} label(s) of {site}")
