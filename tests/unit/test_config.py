"""Configuration layering and the production secret rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from moderation.storage.db import make_engine
from moderation.web.config import ConfigError, load_config

pytestmark = pytest.mark.unit


def test_production_refuses_to_start_without_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODERATION_SECRET_KEY", raising=False)
    monkeypatch.delenv("MODERATION_ENV", raising=False)
    with pytest.raises(ConfigError, match="MODERATION_SECRET_KEY is required"):
        load_config(Flask("t"))


def test_development_gets_a_random_throwaway_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODERATION_SECRET_KEY", raising=False)
    a, b = Flask("a"), Flask("b")
    load_config(a, {"ENV": "development"})
    load_config(b, {"ENV": "development"})
    assert a.config["SECRET_KEY"] != b.config["SECRET_KEY"]
    assert len(a.config["SECRET_KEY"]) == 64


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODERATION_SECRET_KEY", "s3cret")
    monkeypatch.setenv("MODERATION_FLOOD_SECONDS", "30")
    monkeypatch.setenv("MODERATION_BANNED_WORDS", "foo, bar ,baz")
    monkeypatch.setenv("MODERATION_SITE_ORIGINS", '["https://News.example/"]')
    monkeypatch.setenv("MODERATION_SPAM_REJECT", "0.95")
    app = Flask("t")
    load_config(app)
    assert app.config["SECRET_KEY"] == "s3cret"
    assert app.config["FLOOD_SECONDS"] == 30
    assert app.config["BANNED_WORDS"] == ["foo", "bar", "baz"]
    assert app.config["SITE_ORIGINS"] == ["https://news.example"]
    assert app.config["SPAM_REJECT"] == 0.95


def test_bad_values_are_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODERATION_SECRET_KEY", "x")
    monkeypatch.setenv("MODERATION_FLOOD_SECONDS", '"soon"')
    with pytest.raises(ConfigError):
        load_config(Flask("t"))
    with pytest.raises(ConfigError, match="MODERATION_ENV"):
        load_config(Flask("t"), {"ENV": "staging", "FLOOD_SECONDS": 1})


def test_threshold_overrides_must_be_probabilities(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODERATION_SECRET_KEY", "x")
    monkeypatch.setenv("MODERATION_SPAM_REJECT", "1.5")
    with pytest.raises(ConfigError, match="between 0 and 1"):
        load_config(Flask("t"))


def test_an_all_digit_secret_stays_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODERATION_SECRET_KEY", "81234567890123456789")
    app = Flask("t")
    load_config(app)
    assert app.config["SECRET_KEY"] == "81234567890123456789"


def test_a_webhook_url_may_not_carry_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODERATION_SECRET_KEY", "x")
    monkeypatch.setenv("MODERATION_WEBHOOK_SECRETS", "s")
    monkeypatch.setenv("MODERATION_WEBHOOK_URL", "https://user:pass@hooks.example/in")
    with pytest.raises(ConfigError, match="credentials"):
        load_config(Flask("t"))


def test_strictness_must_be_a_known_level(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODERATION_STRICTNESS", "paranoid")
    with pytest.raises(ConfigError, match="STRICTNESS"):
        load_config(Flask("t"), {"ENV": "testing"})
    monkeypatch.setenv("MODERATION_STRICTNESS", "strict")
    app = Flask("t")
    load_config(app, {"ENV": "testing"})
    assert app.config["STRICTNESS"] == "strict"


@pytest.mark.parametrize(("setting", "pragma"), [(None, 2), ("normal", 1), ("FULL", 2)])
def test_sqlite_durability_is_full_unless_set_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str | None, pragma: int
) -> None:
    """FULL (2): a comment answered 201 survives a power cut; NORMAL (1) only on request.
    SQLite gives up waiting for the write lock well before gunicorn kills the worker (30 s)."""
    monkeypatch.setenv("MODERATION_SECRET_KEY", "s3cret")
    if setting is not None:
        monkeypatch.setenv("MODERATION_SQLITE_SYNCHRONOUS", setting)
    app = Flask("t")
    load_config(app, {"DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}"})
    engine = make_engine(
        app.config["DATABASE_URL"], sqlite_synchronous=app.config["SQLITE_SYNCHRONOUS"]
    )
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == pragma
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert 0 < connection.exec_driver_sql("PRAGMA busy_timeout").scalar() < 30_000
    engine.dispose()


def test_an_unknown_sqlite_durability_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODERATION_SECRET_KEY", "s3cret")
    monkeypatch.setenv("MODERATION_SQLITE_SYNCHRONOUS", "OFF")
    with pytest.raises(ConfigError, match="FULL or NORMAL"):
        load_config(Flask("t"))
