"""Alembic migrations: they build the schema the tables describe, and stay tidy."""

from __future__ import annotations

import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from moderation.storage import tables  # noqa: F401 - registers the tables
from moderation.storage.db import Base
from moderation.storage.migrate import MIGRATIONS, alembic_config

pytestmark = pytest.mark.functional


def test_upgrade_head_builds_exactly_the_declared_schema(engine: Engine) -> None:
    # `engine` is a database migrated from empty to head by the session fixture.
    assert {"comments", "predictions", "decisions", "site_keys"} <= set(
        inspect(engine).get_table_names()
    )
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_revisions_are_numbered_and_linear() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    heads = script.get_heads()
    assert len(heads) == 1
    revisions = list(script.walk_revisions())
    for revision in revisions:
        assert re.fullmatch(r"\d{4}", revision.revision)
    files = sorted(p.name for p in (MIGRATIONS / "versions").glob("[0-9]*.py"))
    assert [f[:4] for f in files] == sorted(r.revision for r in revisions)
