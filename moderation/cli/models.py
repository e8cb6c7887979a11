"""Model commands: ``train``, ``evaluate``, ``score``, ``explain`` and ``models``.

The training and evaluation code is imported inside the commands that use it, so that the
other commands start quickly.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import click

from moderation.cli.context import session_scope
from moderation.domain.policy import decide
from moderation.domain.rules import IntakeSettings
from moderation.ml import artifacts
from moderation.ml.features import CommentInput
from moderation.ml.signals import content_signals
from moderation.services import model_registry
from moderation.services.scoring import SklearnScorer, scores_json

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
_CHUNK = 1000


def default_models_dir() -> Path:
    """``MODERATION_MODELS_DIR``, else ``var/models`` (trained versions, outside the checkout)."""
    return Path(os.environ.get("MODERATION_MODELS_DIR") or PROJECT_ROOT / "var" / "models")


def _store(models_dir: Path) -> artifacts.ModelStore:
    """``models_dir`` over the shipped versions (``MODERATION_SHIPPED_MODELS_DIR``)."""
    shipped = os.environ.get("MODERATION_SHIPPED_MODELS_DIR", str(PROJECT_ROOT / "models"))
    return artifacts.ModelStore(models_dir, Path(shipped) if shipped else None)


def default_data_dir() -> Path:
    """``MODERATION_TRAINING_DATA_DIR``, else the repository's ``training/data``."""
    return Path(
        os.environ.get("MODERATION_TRAINING_DATA_DIR") or PROJECT_ROOT / "training" / "data"
    )


models_dir_option = click.option(
    "--models-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=default_models_dir,
    show_default="var/models",
    help="Folder of trained model versions, and of versions unpacked from the database (the "
    "shipped versions in models/ stay readable).",
)
model_option = click.option(
    "--model", "version", default=None, help="Model version (default: the active one)."
)


def _active(store: artifacts.ModelStore) -> str | None:
    """The active version: the database's latest activation (its files unpacked here if this
    host lacks them), else the ACTIVE files' (a database not set up yet)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with session_scope() as session:
            recorded = model_registry.active(session)
            if recorded is not None:
                model_registry.ensure_local(session, store, recorded)
                return recorded.version
    except SQLAlchemyError:
        pass
    return store.active()


def _load(models_dir: Path, version: str | None) -> artifacts.ModelArtifact:
    store = _store(models_dir)
    try:
        return store.load(version or _active(store))
    except artifacts.ArtifactError as exc:
        raise click.ClickException(f"{exc}; run `moderation train` first") from exc


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=default_data_dir,
    show_default="training/data",
    help="Folder of labelled data (MODERATION_TRAINING_DATA_DIR).",
)
@models_dir_option
@click.option("--version", default=None, help="Name of the new version (default: UTC time).")
@click.option(
    "--activate/--no-activate",
    default=False,
    show_default=True,
    help="Activate the new model if it passes the quality gate: the floors in "
    "training/checks/floors.json, and no worse than the active model on the blind held-out "
    "replies and the functional checks.",
)
@click.option(
    "--force", is_flag=True, help="With --activate: activate even if the quality gate fails."
)
@click.option("--peer/--no-peer", default=True, help="Compare with alt-profanity-check.")
@click.option(
    "--moderator-labels/--no-moderator-labels",
    default=False,
    show_default=True,
    help="Add moderators' decisions and the sites' feedback (Akismet submit-spam/ham, "
    "Perspective suggestscore) from the database (MODERATION_DATABASE_URL) as labels.",
)
def train(
    data_dir: Path,
    models_dir: Path,
    version: str | None,
    activate: bool,
    force: bool,
    peer: bool,
    moderator_labels: bool,
) -> None:
    """Train both heads from DATA_DIR, evaluate, and write a new model version.

    The new version is compared with the active one; it is activated only with --activate,
    and only if it passes the quality gate (or with --force).
    """
    from moderation.ml import gate
    from moderation.ml.checks import load_cases
    from moderation.ml.datasets import load_holdout
    from moderation.ml.training import gate_summary
    from moderation.ml.training import train as run_training

    def progress(message: str) -> None:
        click.echo(f"[train] {message}", err=True)

    extra = []
    if moderator_labels:
        from moderation.services.feedback import feedback_examples
        from moderation.services.review_queue import moderator_labels as labels_from

        with session_scope() as session:
            extra = labels_from(session) + feedback_examples(session)
        progress(f"{len(extra)} labels from moderators' decisions and sites' feedback")
    checks_dir = data_dir.parent / "checks"
    previous = None
    store = _store(models_dir)
    active = _active(store)
    if active is not None:
        try:
            previous = store.load(active)
        except artifacts.ArtifactError as exc:
            progress(f"the active model {active} cannot be loaded, nothing to compare: {exc}")
    try:
        result = run_training(
            data_dir,
            models_dir,
            extra=extra,
            version=version,
            progress=progress,
            with_peer=peer,
            previous=previous,
            cases_path=checks_dir / "functional_cases.jsonl",
        )
    except artifacts.ArtifactError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"model {result.version} written to {result.folder}")
    click.echo(f"report: {result.folder / 'report.md'}")
    problems = gate.below_floors(result.summary, gate.load_floors(checks_dir / "floors.json"))
    if previous is not None:
        cases_file = checks_dir / "functional_cases.jsonl"
        cases = load_cases(cases_file) if cases_file.is_file() else []
        old = gate_summary(previous.pipelines, previous.thresholds, load_holdout(data_dir), cases)
        problems += gate.worse_than(result.summary, old)
    for problem in problems:
        click.echo(f"quality gate: {problem}", err=True)
    if not activate:
        verdict = "passes" if not problems else "fails"
        click.echo(f"not activated (the quality gate {verdict}; use --activate to activate)")
        return
    if problems and not force:
        raise click.ClickException(
            f"model {result.version} not activated: it fails the quality gate "
            "(see above; --force activates it anyway)"
        )
    _activate(store, result.version)
    click.echo(f"model {result.version} activated" + (" despite the gate" if problems else ""))


@click.command()
@click.option(
    "--data",
    "data_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Labelled CSV or JSONL (a text column and a label column).",
)
@models_dir_option
@model_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the report (default: evaluations/<file>-<model>/).",
)
def evaluate(data_file: Path, models_dir: Path, version: str | None, out: Path | None) -> None:
    """Evaluate the model on a labelled file and write the report."""
    from moderation.ml.datasets import load_labelled_file
    from moderation.ml.evaluation import metrics_table
    from moderation.ml.training import evaluate_file

    artifact = _load(models_dir, version)
    try:
        examples = load_labelled_file(data_file)
    except (ValueError, KeyError, json.JSONDecodeError) as exc:
        raise click.ClickException(str(exc)) from exc
    out = out or Path("evaluations") / f"{data_file.stem}-{artifact.version}"
    results = evaluate_file(artifact, examples, out)
    for head, rows in results["heads"].items():
        if rows:
            click.echo(f"## {head}\n{metrics_table(rows)}")
    click.echo(f"report: {out / 'report.md'}")


def _score_lines(scorer: SklearnScorer, lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """One output record per input line, in order; bad lines get an ``error``."""
    pending: list[tuple[dict[str, Any], CommentInput | None]] = []

    def flush() -> Iterator[dict[str, Any]]:
        inputs = [c for _, c in pending if c is not None]
        scored = iter(scorer.score_many(inputs))
        for record, comment in pending:
            if comment is not None:
                scores = next(scored)
                decision = decide(
                    scores, scorer.thresholds, content_signals(comment.content, IntakeSettings())
                )
                record.update(scores_json(scores))
                record["decision"] = decision.status.value
                record["reasons"] = [r.as_dict() for r in decision.reasons]
                record["model_version"] = scorer.version
            yield record
        pending.clear()

    for number, line in enumerate(lines, 1):
        record: dict[str, Any] = {"line": number}
        comment = None
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            if "id" in data:
                record["id"] = data["id"]
            if not isinstance(data.get("content"), str):
                raise ValueError("missing string field 'content'")
            comment = CommentInput.from_mapping(data)
        except ValueError as exc:  # JSONDecodeError is a ValueError
            record["error"] = str(exc)
        pending.append((record, comment))
        if len(pending) >= _CHUNK:
            yield from flush()
    yield from flush()


@click.command()
@click.argument("file", required=False, type=click.File("r", encoding="utf-8", errors="strict"))
@models_dir_option
@model_option
def score(file: TextIO | None, models_dir: Path, version: str | None) -> None:
    """Score a backlog: JSONL from FILE or stdin, one JSON result per input line, in order.

    Each input line is an object with ``content`` and optional ``author``, ``email``, ``url``
    (and ``id``, echoed back). Each output line has ``spam`` and ``abuse`` (probabilities),
    ``decision`` (approved, pending, spam or rejected) and ``reasons``; a line that cannot be
    read gets ``error`` instead.
    """
    scorer = SklearnScorer(_load(models_dir, version))
    source = file if file is not None else sys.stdin
    out = sys.stdout
    for record in _score_lines(scorer, (line.rstrip("\n") for line in source)):
        out.write(json.dumps(record, ensure_ascii=False) + "\n")


@click.command()
@click.argument("text")
@click.option("--author", default="", help="The author name, as the form would send it.")
@click.option("--email", default="", help="The author's email address.")
@click.option("--url", default="", help="The author's website.")
@click.option("--top", default=8, show_default=True, help="How many features to show per head.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@models_dir_option
@model_option
def explain(
    text: str,
    author: str,
    email: str,
    url: str,
    top: int,
    as_json: bool,
    models_dir: Path,
    version: str | None,
) -> None:
    """Score TEXT and show the n-grams that pushed each score up, with character spans."""
    scorer = SklearnScorer(_load(models_dir, version))
    comment = CommentInput(text, author, email, url)
    scores = scorer.score(comment)
    decision = decide(scores, scorer.thresholds, content_signals(comment.content, IntakeSettings()))
    explanation = scorer.explain(comment, top=top)
    if as_json:
        payload = {
            **scores_json(scores),
            "decision": decision.status.value,
            "reasons": [r.as_dict() for r in decision.reasons],
            "explanation": {h: [c.as_dict() for c in cs] for h, cs in explanation.items()},
            "model_version": scorer.version,
        }
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    click.echo(f"decision: {decision.status.value}  (model {scorer.version})")
    for head, contributions in explanation.items():
        t = scorer.thresholds[head]
        click.echo(f"{head}: {scores[head]:.4f}  (allow < {t.allow}, reject >= {t.reject})")
        if not contributions:
            click.echo("  nothing that matters raised this score")
        for c in contributions:
            where = ", ".join(f"[{s}:{e}] {text[s:e]!r}" for s, e in c.spans)
            click.echo(f"  +{c.weight:.3f}  {c.label}  {where}".rstrip())


@click.group()
def models() -> None:
    """List, activate and roll back model versions."""


@models.command("list")
@models_dir_option
def models_list(models_dir: Path) -> None:
    """List model versions (trained, shipped, and stored in the database); * marks the active
    one, and the latest activations follow."""
    store = _store(models_dir)
    active = _active(store)
    with session_scope() as session:
        stored = model_registry.stored_versions(session)
        steps = model_registry.history(session, limit=10)
    for name in sorted(set(store.versions()) | stored):
        try:
            manifest = artifacts.read_manifest(store.path_of(name))
        except artifacts.ArtifactError:  # in the database only: unpacked when activated
            click.echo(f"{'*' if name == active else ' '} {name} (in the database only)")
            continue
        heads = manifest.get("heads", {})
        thresholds = " ".join(
            f"{h}={v['thresholds']['allow']}/{v['thresholds']['reject']}" for h, v in heads.items()
        )
        marker = "*" if name == active else " "
        shipped = " (shipped)" if store.path_of(name).parent != models_dir else ""
        click.echo(f"{marker} {name}{shipped}  {manifest.get('created_at', '')}  {thresholds}")
    for step in steps:
        click.echo(
            f"  activated {step.version} at {step.activated_at:%Y-%m-%d %H:%M:%S} by {step.actor}"
        )


def _activate(store: artifacts.ModelStore, version: str) -> None:
    """Record ``version`` as the active one in the database: every instance follows."""
    try:
        with session_scope(commit=True) as session:
            model_registry.activate(session, store, version, actor="cli")
    except artifacts.ArtifactError as exc:
        raise click.ClickException(str(exc)) from exc


@models.command("activate")
@click.argument("version")
@models_dir_option
def models_activate(version: str, models_dir: Path) -> None:
    """Make VERSION the active model on every instance using this database (running services
    switch within MODERATION_RELOAD_SECONDS)."""
    _activate(_store(models_dir), version)
    click.echo(f"active model: {version}")


@models.command("rollback")
@models_dir_option
def models_rollback(models_dir: Path) -> None:
    """Activate the version that was active before the current one (else the previous one by
    name)."""
    store = _store(models_dir)
    active = _active(store)
    with session_scope() as session:
        earlier = model_registry.previous(session)
    if earlier is None:
        versions = store.versions()
        if active not in versions or versions.index(active) == 0:
            raise click.ClickException("there is no earlier version to roll back to")
        earlier = versions[versions.index(active) - 1]
    _activate(store, earlier)
    click.echo(f"active model: {earlier} (was {active})")
