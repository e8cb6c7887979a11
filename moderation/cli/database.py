"""``moderation db``: migrate the configured database, or fill it with made-up comments."""

from __future__ import annotations

import time

import click

from moderation.cli.context import cli_app
from moderation.storage.migrate import upgrade
from moderation.storage.seed import seed_comments
from moderation.web.database import get_engine


@click.group()
def db() -> None:
    """Database schema (migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="The migration to upgrade to.")
def db_upgrade(revision: str) -> None:
    """Apply migrations to the configured database (MODERATION_DATABASE_URL)."""
    engine = get_engine(cli_app())
    upgrade(engine, revision)
    click.echo(f"database at {engine.url.render_as_string(hide_password=True)} is at {revision}")


@db.command("seed")
@click.option(
    "--comments", default=1_000_000, show_default=True, help="How many comments to store."
)
@click.option(
    "--pending", default=100_000, show_default=True, help="How many of them wait for review."
)
@click.option("--batch", default=10_000, show_default=True, help="Rows per insert batch.")
@click.option(
    "--articles", default=2_000, show_default=True, help="How many articles they spread over."
)
def db_seed(comments: int, pending: int, batch: int, articles: int) -> None:
    """Fill the configured database with many comments, to measure the queue at scale
    (benchmarks/bench_queue.py). Never on a production database: the rows are made up."""
    if comments < 0 or batch < 1 or articles < 1 or not 0 <= pending <= comments:
        raise click.BadParameter("need 0 <= pending <= comments, batch >= 1, articles >= 1")
    engine = get_engine(cli_app())
    started = time.perf_counter()

    def progress(done: int) -> None:
        if done % 100_000 < batch or done == comments:
            elapsed = time.perf_counter() - started
            click.echo(f"{done:,} comments ({done / max(elapsed, 1e-9):,.0f}/s)", err=True)

    first, last = seed_comments(
        engine,
        comments=comments,
        pending=pending,
        batch=batch,
        articles=articles,
        progress=progress,
    )
    elapsed = time.perf_counter() - started
    click.echo(f"seeded comments {first}..{last} ({pending:,} pending) in {elapsed:.1f} s")
