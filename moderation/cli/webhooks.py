"""``moderation webhooks``: deliver the outbox (beside gunicorn), see it, retry failed events."""

from __future__ import annotations

import signal
from typing import Any

import click

from moderation.cli.context import cli_app, session_scope
from moderation.services.webhooks import new_secret, outbox_status, retry_failed, run_deliverer
from moderation.web.database import get_sessionmaker


@click.group()
def webhooks() -> None:
    """Signed webhooks: deliver the outbox (run beside gunicorn), see it, retry failed events."""


@webhooks.command("deliver")
@click.option("--once", is_flag=True, help="One pass over the due events, then exit.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds between passes.",
)
@click.option(
    "--if-configured",
    is_flag=True,
    help="Without MODERATION_WEBHOOK_URL, wait for SIGTERM doing nothing instead of failing "
    "(for make run's process manager, which stops everything when one process exits).",
)
def webhooks_deliver(once: bool, interval: float, if_configured: bool) -> None:
    """POST due events to MODERATION_WEBHOOK_URL until SIGTERM or SIGINT (or once)."""
    app = cli_app()
    stop: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        stop.append(signum)  # finish the event in hand, give the rest back, exit

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    if not app.config["WEBHOOK_URL"]:
        if not if_configured or once:
            raise click.ClickException("MODERATION_WEBHOOK_URL is not set: nowhere to deliver to")
        click.echo("webhooks off (MODERATION_WEBHOOK_URL is not set); waiting to be stopped")
        while not stop:
            signal.pause()
        return
    try:
        report = run_deliverer(
            get_sessionmaker(app),
            app.config,
            once=once,
            interval=interval,
            should_stop=lambda: bool(stop),
        )
    except Exception as exc:
        raise click.ClickException(f"delivery failed: {exc}") from exc
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    click.echo(
        f"delivered {report.delivered}, to retry {report.retrying}, given up {report.gave_up}"
    )


@webhooks.command("status")
def webhooks_status() -> None:
    """Count the outbox's pending, delivered and failed (given up) events."""
    app = cli_app()
    with session_scope(app) as session:
        counts = outbox_status(session, max_attempts=app.config["WEBHOOK_MAX_ATTEMPTS"])
    for name, count in counts.items():
        click.echo(f"{name}: {count}")


@webhooks.command("retry")
def webhooks_retry() -> None:
    """Give every failed (given up) event a new round of attempts."""
    app = cli_app()
    with session_scope(app, commit=True) as session:
        count = retry_failed(session, max_attempts=app.config["WEBHOOK_MAX_ATTEMPTS"])
    click.echo(f"{count} failed event(s) queued again")


@webhooks.command("new-secret")
def webhooks_new_secret() -> None:
    """Print a new signing secret in the Standard Webhooks form (whsec_ and base64), for
    MODERATION_WEBHOOK_SECRETS and the receiver."""
    click.echo(new_secret())
