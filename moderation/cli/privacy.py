"""``moderation purge``, ``erase`` and ``export``: retention and people's data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from moderation.cli.context import cli_app, session_scope
from moderation.services import privacy
from moderation.storage.db import utcnow


@click.command("purge")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=None,
    help="Erase the IP address, user agent and referrer of comments older than this many "
    "days (default: MODERATION_RETENTION_DAYS, 30; 0 there keeps them).",
)
@click.option(
    "--webhook-days",
    type=click.IntRange(min=1),
    default=None,
    help="Delete webhook events delivered more than this many days ago (default: "
    "MODERATION_WEBHOOK_RETENTION_DAYS, 7; 0 there keeps them).",
)
def privacy_purge(days: int | None, webhook_days: int | None) -> None:
    """Erase request metadata past the retention period and prune delivered webhook events.

    Run it from cron (e.g. hourly: ``0 * * * * .venv/bin/moderation purge``); the service also
    runs it itself, at most hourly and a bounded amount at a time.
    """
    app = cli_app()
    retention = days if days is not None else int(app.config["RETENTION_DAYS"])
    webhook_retention = (
        webhook_days if webhook_days is not None else int(app.config["WEBHOOK_RETENTION_DAYS"])
    )
    with session_scope(app, commit=True) as session:
        report = privacy.purge(
            session,
            now=utcnow(),
            retention_days=retention,
            webhook_retention_days=webhook_retention,
        )
    if retention > 0:
        click.echo(
            f"comments: {report.comments} (IP address, user agent and referrer erased; "
            f"older than {retention} days)"
        )
    else:
        click.echo("comments: 0 (MODERATION_RETENTION_DAYS is 0: request metadata is kept)")
    if webhook_retention > 0:
        click.echo(
            f"webhook_events: {report.webhook_events} (deleted; delivered more than "
            f"{webhook_retention} days ago)"
        )
    else:
        click.echo("webhook_events: 0 (MODERATION_WEBHOOK_RETENTION_DAYS is 0: events are kept)")


@click.command("erase")
@click.option(
    "--email",
    default=None,
    help="Erase every comment with this email address (any case), and its feedback labels.",
)
@click.option("--ip", default=None, help="Erase every comment sent from this IP address.")
def privacy_erase(email: str | None, ip: str | None) -> None:
    """Anonymise one person's comments and delete or rewrite what refers to them.

    Comments stay, with their status and decisions, as "(erased)" with no email, website, IP
    address, user agent or referrer; feedback labels with the email are deleted; webhook
    events about the comments are rewritten (undelivered) or deleted (delivered). Give
    --email, --ip or both. Prints what changed, per table.
    """
    if not (email or "").strip() and not (ip or "").strip():
        raise click.UsageError("give --email ADDRESS, --ip ADDRESS or both")
    with session_scope(commit=True) as session:
        report = privacy.erase(session, email=email, ip=ip)
    click.echo(f"comments: {report.comments} anonymised")
    click.echo(f"decisions: {report.decisions} with personal details erased")
    click.echo(f"feedback_labels: {report.feedback_labels} deleted")
    click.echo(
        f"webhook_events: {report.webhook_events_rewritten} rewritten (undelivered), "
        f"{report.webhook_events_deleted} deleted (delivered)"
    )


@click.command("export")
@click.option("--email", required=True, help="The email address whose data is exported.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the JSON to this file (created readable by its owner only; default: stdout).",
)
def privacy_export(email: str, out: Path | None) -> None:
    """Write everything held about the person with this email as JSON: comments with their
    predictions and decisions, feedback labels, and webhook events about the comments."""
    if not email.strip():
        raise click.UsageError("--email must not be blank")
    with session_scope() as session:
        data = privacy.export(session, email=email)
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    click.echo(f"wrote {len(data['comments'])} comment(s) to {out}", err=True)
