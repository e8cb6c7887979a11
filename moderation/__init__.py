"""Self-hosted comment moderation service.

The layers, each importing only those below it (``make test`` checks with lint-imports):
``cli`` and ``web`` (the app factory, blueprints, Flask glue) over ``services`` (intake, the
review queue, webhooks: they take a session, a scorer and settings as arguments) over ``ml``
(model artifacts, features, training) and ``storage`` (engine, tables, migrations) over
``domain`` (statuses, thresholds, the rules; plain Python).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app (see :func:`moderation.web.app.create_app`).

    Imported here, when called, so that importing a lower layer (``moderation.domain``) does
    not load Flask and the web layer.
    """
    from moderation.web.app import create_app as factory

    return factory(config)
