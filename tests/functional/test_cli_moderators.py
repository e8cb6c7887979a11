"""`moderation moderator create|token` and training with moderators' labels."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from moderation import create_app
from moderation.cli import main
from moderation.services import review_queue as rq
from moderation.services.feedback import record_label
from moderation.services.moderators import authenticate, moderator_for_token
from moderation.web.database import get_session
from tests.conftest import DATA_DIR
from tests.factories import make_pending

pytestmark = pytest.mark.functional


def test_create_moderator_and_token(cli_database: str) -> None:
    runner = CliRunner()
    created = runner.invoke(
        main, ["moderator", "create", "alice", "--role", "admin"], input="long enough pw\n"
    )
    assert created.exit_code == 0, created.output
    short = runner.invoke(main, ["moderator", "create", "bob"], input="short\n")
    assert short.exit_code != 0
    assert "at least 8" in short.output
    token = runner.invoke(main, ["moderator", "token", "alice"])
    assert token.exit_code == 0
    assert runner.invoke(main, ["moderator", "token", "nobody"]).exit_code != 0
    app = create_app({"SCORER_BACKEND": "fixed"})
    with app.app_context():
        session = get_session()
        alice = authenticate(session, name="alice", password="long enough pw")
        assert alice is not None
        assert alice.role.value == "admin"
        assert authenticate(session, name="alice", password="wrong") is None
        found = moderator_for_token(session, token.output.strip())
        assert found is not None
        assert found.name == "alice"


def test_train_includes_moderator_labels(cli_database: str, tmp_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(main, ["moderator", "create", "alice"], input="long enough pw\n")
    app = create_app({"SCORER_BACKEND": "fixed"})
    with app.app_context():
        session = get_session()
        from moderation.services.moderators import authenticate as auth

        alice = auth(session, name="alice", password="long enough pw")
        assert alice is not None
        for i, action in enumerate([rq.Action.REJECT_SPAM, rq.Action.APPROVE, rq.Action.APPROVE]):
            item = make_pending(session, content=f"moderated comment {i}")
            rq.record_decision(session, comment_id=item.id, moderator=alice, action=action)
        accepted = record_label(session, source="akismet", site=None, content="buy pills", spam=1)
        record_label(session, source="akismet", site=None, content="unreviewed label", spam=1)
        undone = make_pending(session, content="undone")
        rq.record_decision(
            session, comment_id=undone.id, moderator=alice, action=rq.Action.REJECT_SPAM
        )
        rq.undo(session, comment_id=undone.id, moderator=alice)
        session.commit()
        accepted_id = accepted.id
    # Only labels a moderator accepted join training.
    reviewed = runner.invoke(main, ["labels", "accept", str(accepted_id)])
    assert reviewed.exit_code == 0, reviewed.output
    assert "accepted 1 label" in reviewed.output
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR / "own", data / "own")
    models = tmp_path / "models"
    result = runner.invoke(
        main,
        [
            "train",
            "--data-dir",
            str(data),
            "--models-dir",
            str(models),
            "--version",
            "m1",
            "--no-peer",
            "--moderator-labels",
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((models / "m1" / "manifest.json").read_text())
    assert manifest["training_data"]["moderator_labels"] == 3
    assert manifest["training_data"]["feedback_labels"] == 1
    report = (models / "m1" / "report.md").read_text()
    assert "moderator_labels: 3" in report
    assert "feedback_labels: 1" in report


def test_list_enable_and_reset_password(cli_database: str) -> None:
    runner = CliRunner()
    runner.invoke(
        main, ["moderator", "create", "alice", "--role", "admin"], input="long enough pw\n"
    )
    runner.invoke(main, ["moderator", "create", "bob"], input="another long pw\n")
    runner.invoke(main, ["moderator", "disable", "bob"])
    listed = runner.invoke(main, ["moderator", "list"])
    assert listed.exit_code == 0, listed.output
    lines = {line.split()[0]: line.split()[1:] for line in listed.output.splitlines()}
    assert lines == {"alice": ["admin", "active"], "bob": ["moderator", "disabled"]}
    assert runner.invoke(main, ["moderator", "enable", "bob"]).exit_code == 0
    reset = runner.invoke(
        main, ["moderator", "reset-password", "bob"], input="brand new password\n"
    )
    assert reset.exit_code == 0, reset.output
    assert runner.invoke(main, ["moderator", "reset-password", "bob"], input="short\n").exit_code
    with create_app({"SCORER_BACKEND": "fixed"}).app_context():
        session = get_session()
        assert authenticate(session, name="bob", password="brand new password") is not None
        assert authenticate(session, name="bob", password="another long pw") is None
    assert runner.invoke(main, ["moderator", "enable", "nobody"]).exit_code != 0


def test_site_key_list_shows_names_and_states_never_keys(cli_database: str) -> None:
    runner = CliRunner()
    key = runner.invoke(main, ["site-key", "create", "news"]).output.strip()
    runner.invoke(main, ["site-key", "create", "old"])
    runner.invoke(main, ["site-key", "revoke", "old"])
    listed = runner.invoke(main, ["site-key", "list"])
    assert listed.exit_code == 0, listed.output
    assert key not in listed.output
    assert "revoked" in next(line for line in listed.output.splitlines() if line.startswith("old"))
    assert "active" in next(line for line in listed.output.splitlines() if line.startswith("news"))


def test_every_option_of_every_command_has_help_text() -> None:
    import click

    def commands(group: click.Group, path: str) -> Iterator[tuple[str, click.Command]]:
        for name, command in group.commands.items():
            yield f"{path} {name}", command
            if isinstance(command, click.Group):
                yield from commands(command, f"{path} {name}")

    missing = [
        f"{path} {param.opts[0]}"
        for path, command in commands(main, "moderation")
        for param in command.params
        if isinstance(param, click.Option) and not param.help
    ]
    assert missing == []
