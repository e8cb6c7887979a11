"""The `moderation` command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from moderation.cli import main
from tests.conftest import DATA_DIR, MODELS_DIR, ROOT

pytestmark = pytest.mark.functional


@pytest.fixture(autouse=True)
def _only_the_given_models_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each command sees the --models-dir it is given, not also the shipped versions."""
    monkeypatch.setenv("MODERATION_SHIPPED_MODELS_DIR", "")


def _active(url: str) -> str | None:
    from moderation.services import model_registry
    from moderation.storage.db import make_engine

    engine = make_engine(url)
    with engine.connect() as connection:
        recorded = model_registry.active(connection)
    engine.dispose()
    return recorded.version if recorded is not None else None


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_score_writes_one_line_per_input_line_in_order(runner: CliRunner) -> None:
    lines = [
        {"id": 7, "content": "Thanks, a fair and careful article.", "author": "Ann"},
        {
            "content": "Cheap v1agra, best prices, buy now https://pills-now.xyz/buy",
            "author": "cheap pills",
            "email": "sales@pills-now.xyz",
            "url": "https://pills-now.xyz",
        },
        "not json at all",
        {"author": "no content"},
        {"content": "fuck you, you stupid fucking bitch"},
    ]
    stdin = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    result = runner.invoke(main, ["score", "--models-dir", str(MODELS_DIR)], input=stdin)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(lines)
    assert [o["line"] for o in out] == [1, 2, 3, 4, 5]
    assert out[0]["id"] == 7
    assert out[0]["decision"] == "approved"
    assert out[1]["decision"] == "spam"
    assert "error" in out[2]
    assert "error" in out[3]
    assert out[4]["decision"] == "rejected"
    for o in (out[0], out[1], out[4]):
        assert 0.0 <= o["spam"] <= 1.0
        assert 0.0 <= o["abuse"] <= 1.0
        assert o["reasons"]
        assert all("code" in r for r in o["reasons"])


def test_score_reads_a_file(runner: CliRunner, tmp_path: Path) -> None:
    backlog = tmp_path / "backlog.jsonl"
    backlog.write_text(
        "\n".join(json.dumps({"content": f"comment number {i}"}) for i in range(1500)) + "\n"
    )
    result = runner.invoke(main, ["score", str(backlog), "--models-dir", str(MODELS_DIR)])
    assert result.exit_code == 0
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["line"] for o in out] == list(range(1, 1501))


def test_explain_shows_spans(runner: CliRunner) -> None:
    text = "you are a f4cking id10t"
    result = runner.invoke(main, ["explain", text, "--json", "--models-dir", str(MODELS_DIR)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    features = {c["feature"]: c for c in payload["explanation"]["abuse"]}
    assert "idiot" in features
    start, end = features["idiot"]["spans"][0]
    assert text[start:end] == "id10t"
    human = runner.invoke(main, ["explain", text, "--models-dir", str(MODELS_DIR)])
    assert "'id10t'" in human.output


def test_evaluate_writes_a_report(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "labelled.csv"
    data.write_text(
        "text,label\n"
        '"Thanks for the article",ham\n'
        '"Interesting point about the budget",ham\n'
        '"I disagree with the minister",ham\n'
        '"Buy cheap viagra now http://pills.xyz",spam\n'
        '"Best casino bonus, click http://casino.top",spam\n'
        '"fuck off you stupid idiot",abuse\n'
        '"you are a worthless moron",abuse\n'
    )
    out = tmp_path / "report"
    result = runner.invoke(
        main,
        ["evaluate", "--data", str(data), "--out", str(out), "--models-dir", str(MODELS_DIR)],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["heads"]["spam"]["labelled"]["n"] == 7
    assert report["heads"]["spam"]["labelled"]["positives"] == 2
    assert report["heads"]["abuse"]["labelled"]["positives"] == 2
    assert (out / "pr_abuse.png").is_file()
    assert "ROC-AUC" in (out / "report.md").read_text()


def test_evaluate_refuses_a_file_without_labels(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "nolabel.jsonl"
    data.write_text(json.dumps({"content": "hello"}) + "\n")
    result = runner.invoke(main, ["evaluate", "--data", str(data), "--models-dir", str(MODELS_DIR)])
    assert result.exit_code != 0
    assert "no label column" in result.output


@pytest.fixture
def own_data(tmp_path: Path) -> Path:
    """A data folder with only the team's own replies (fast to train on)."""
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR / "own", data / "own")
    return data


def test_train_is_deterministic_and_manages_versions(
    runner: CliRunner, own_data: Path, tmp_path: Path, cli_database: str
) -> None:
    models = tmp_path / "models"
    for version in ("v1", "v2"):
        result = runner.invoke(
            main,
            [
                "train",
                "--data-dir",
                str(own_data),
                "--models-dir",
                str(models),
                "--version",
                version,
                "--no-peer",
                "--activate",
            ],
        )
        assert result.exit_code == 0, result.output
        assert f"model {version} activated" in result.output
    for head in ("spam", "abuse"):
        assert (models / "v1" / f"{head}.skops").read_bytes() == (
            models / "v2" / f"{head}.skops"
        ).read_bytes()
    manifest = json.loads((models / "v2" / "manifest.json").read_text())
    assert manifest["training_data"]["files"]
    assert manifest["training_data"]["rows"]["train"] > 0
    assert _active(cli_database) == "v2"
    assert not (models / "ACTIVE").exists()  # activation is recorded in the database only

    listed = runner.invoke(main, ["models", "list", "--models-dir", str(models)])
    assert "* v2" in listed.output
    assert "  v1" in listed.output
    assert "activated v2" in listed.output
    assert "by cli" in listed.output
    rolled = runner.invoke(main, ["models", "rollback", "--models-dir", str(models)])
    assert rolled.exit_code == 0, rolled.output
    assert _active(cli_database) == "v1"
    again = runner.invoke(main, ["models", "rollback", "--models-dir", str(models)])
    assert again.exit_code == 0  # back to the version active before: v2
    assert _active(cli_database) == "v2"
    unknown = runner.invoke(main, ["models", "activate", "v9", "--models-dir", str(models)])
    assert unknown.exit_code != 0
    assert "no model version 'v9'" in unknown.output
    activated = runner.invoke(main, ["models", "activate", "v1", "--models-dir", str(models)])
    assert activated.exit_code == 0
    assert _active(cli_database) == "v1"


def test_commands_fail_clearly_without_a_model(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["score", "--models-dir", str(tmp_path)], input="{}\n")
    assert result.exit_code != 0
    assert "no model" in result.output


def _train(runner: CliRunner, data: Path, models: Path, version: str, *flags: str) -> Any:
    args = ["--data-dir", str(data), "--models-dir", str(models), "--version", version]
    return runner.invoke(main, ["train", *args, "--no-peer", *flags])


def test_train_does_not_activate_unless_asked(
    runner: CliRunner, own_data: Path, tmp_path: Path, cli_database: str
) -> None:
    models = tmp_path / "models"
    result = _train(runner, own_data, models, "quiet")
    assert result.exit_code == 0, result.output
    assert "not activated" in result.output
    assert _active(cli_database) is None


def test_the_quality_gate_stops_a_model_below_the_floors_unless_forced(
    runner: CliRunner, own_data: Path, tmp_path: Path, cli_database: str
) -> None:
    models = tmp_path / "models"
    checks = own_data.parent / "checks"
    checks.mkdir()
    # A floor no model can meet: the new version must not become active.
    (checks / "floors.json").write_text(json.dumps({"checks": {"overall": 1.01}}))
    shutil.copy(ROOT / "training" / "checks" / "functional_cases.jsonl", checks)
    refused = _train(runner, own_data, models, "v1", "--activate")
    assert refused.exit_code != 0
    assert "quality gate: functional checks overall" in refused.output
    assert "not activated" in refused.output
    assert _active(cli_database) is None
    forced = _train(runner, own_data, models, "v2", "--activate", "--force")
    assert forced.exit_code == 0, forced.output
    assert _active(cli_database) == "v2"
