"""CLI commands that work on the service's database: migrations and site keys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select

from moderation.cli import main
from moderation.storage.tables import SiteKey

pytestmark = pytest.mark.functional


def test_db_upgrade_and_site_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("MODERATION_DATABASE_URL", url)
    monkeypatch.delenv("MODERATION_SECRET_KEY", raising=False)
    runner = CliRunner()
    upgraded = runner.invoke(main, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    created = runner.invoke(main, ["site-key", "create", "news-site"])
    assert created.exit_code == 0, created.output
    key = created.output.strip()
    assert re.fullmatch(r"[0-9a-f]{12}", key)  # the WordPress Akismet plugin's form
    again = runner.invoke(main, ["site-key", "create", "news-site"])
    assert again.exit_code != 0
    assert "exists already" in again.output
    engine = create_engine(url)
    with engine.connect() as connection:
        stored = connection.execute(select(SiteKey.key_hash)).scalar_one()
        assert key not in stored  # only a hash is kept
    revoked = runner.invoke(main, ["site-key", "revoke", "news-site"])
    assert revoked.exit_code == 0
    with engine.connect() as connection:
        active = connection.execute(
            select(func.count()).select_from(SiteKey).where(SiteKey.revoked_at.is_(None))
        ).scalar_one()
    assert active == 0
    engine.dispose()
