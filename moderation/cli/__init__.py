"""The ``moderation`` command, one module per topic.

``models`` trains, evaluates, scores and switches model versions; ``database`` migrates;
``sitekeys``, ``moderators`` and ``labels`` manage accounts and feedback; ``webhooks`` runs the
outbox's deliverer; ``privacy`` purges, erases and exports people's data. Every command that
needs the database gets the app and its session from :mod:`moderation.cli.context`.
"""

from __future__ import annotations

import click

from moderation.cli import database, labels, moderators, privacy, sitekeys, webhooks
from moderation.cli import models as model_commands


@click.group()
def main() -> None:
    """Self-hosted comment moderation: spam and abuse scoring, intake and review."""


for _command in (
    model_commands.train,
    model_commands.evaluate,
    model_commands.score,
    model_commands.explain,
    model_commands.models,
    database.db,
    sitekeys.site_key,
    labels.labels,
    moderators.moderator,
    webhooks.webhooks,
    privacy.privacy_purge,
    privacy.privacy_erase,
    privacy.privacy_export,
):
    main.add_command(_command)
