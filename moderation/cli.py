"""The ``moderation`` command: train, evaluate, score and explain, and manage model versions."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import click
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from moderation.config import ConfigError
from moderation.domain.policy import decide
from moderation.domain.rules import IntakeSettings
from moderation.ml import artifacts
from moderation.ml.features import CommentInput
from moderation.ml.signals import content_signals
from moderation.services.scoring import SklearnScorer, scores_json

PROJECT_ROOT = Path(__file__).resolve().parent.parent
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

    from moderation.services import model_registry

    try:
        with _session() as session:
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


@click.group()
def main() -> None:
    """Self-hosted comment moderation: spam and abuse scoring, intake and review."""


@main.command()
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
        from moderation.web.database import get_session

        with _app(SCORER_BACKEND="fixed").app_context():
            extra = labels_from(get_session()) + feedback_examples(get_session())
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


@main.command()
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


@main.command()
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


@main.command()
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


@main.group()
def models() -> None:
    """List, activate and roll back model versions."""


@models.command("list")
@models_dir_option
def models_list(models_dir: Path) -> None:
    """List model versions (trained, shipped, and stored in the database); * marks the active
    one, and the latest activations follow."""
    from moderation.services import model_registry

    store = _store(models_dir)
    active = _active(store)
    with _session() as session:
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
    from moderation.services import model_registry

    with _session() as session:
        try:
            model_registry.activate(session, store, version, actor="cli")
        except artifacts.ArtifactError as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()


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
    from moderation.services import model_registry

    store = _store(models_dir)
    active = _active(store)
    with _session() as session:
        earlier = model_registry.previous(session)
    if earlier is None:
        versions = store.versions()
        if active not in versions or versions.index(active) == 0:
            raise click.ClickException("there is no earlier version to roll back to")
        earlier = versions[versions.index(active) - 1]
    _activate(store, earlier)
    click.echo(f"active model: {earlier} (was {active})")


def _app(**overrides: Any) -> Flask:
    """The app for a CLI command (the secret is only needed to serve requests)."""
    from moderation import create_app

    if not os.environ.get("MODERATION_SECRET_KEY"):
        overrides.setdefault("SECRET_KEY", secrets.token_hex(32))
    try:
        return create_app(overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@contextlib.contextmanager
def _session() -> Iterator[Session]:
    """A database session of the configured app, for one command."""
    from moderation.web.database import get_session

    with _app(SCORER_BACKEND="fixed").app_context():
        yield get_session()


@main.group()
def db() -> None:
    """Database schema (migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="The migration to upgrade to.")
def db_upgrade(revision: str) -> None:
    """Apply migrations to the configured database (MODERATION_DATABASE_URL)."""
    from moderation.storage.migrate import upgrade
    from moderation.web.database import get_engine

    app = _app(SCORER_BACKEND="fixed")
    engine = get_engine(app)
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
    import time

    from moderation.storage.seed import seed_comments
    from moderation.web.database import get_engine

    if comments < 0 or batch < 1 or articles < 1 or not 0 <= pending <= comments:
        raise click.BadParameter("need 0 <= pending <= comments, batch >= 1, articles >= 1")
    engine = get_engine(_app(SCORER_BACKEND="fixed"))
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


@main.group("site-key")
def site_key() -> None:
    """API keys of site backends (Authorization: Bearer <key>)."""


@site_key.command("create")
@click.argument("name")
@click.option(
    "--long",
    "long_key",
    is_flag=True,
    help="A 48-character key instead of Akismet's 12 (not for the WordPress Akismet plugin).",
)
def site_key_create(name: str, long_key: bool) -> None:
    """Create a key for site NAME and print it (it is shown only once)."""
    from sqlalchemy.exc import IntegrityError

    from moderation.services.sitekeys import create_site_key
    from moderation.web.database import get_session

    app = _app(SCORER_BACKEND="fixed")
    with app.app_context():
        session = get_session()
        try:
            _, key = create_site_key(session, name=name, long=long_key)
            session.commit()
        except IntegrityError as exc:
            raise click.ClickException(f"a site key named {name!r} exists already") from exc
    click.echo(key)


@site_key.command("list")
def site_key_list() -> None:
    """List site keys: name, when created, and whether revoked (keys are never shown again)."""
    from moderation.services.sitekeys import list_site_keys

    with _session() as session:
        for row in list_site_keys(session):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            click.echo(f"{row.name:<24} created {row.created_at:%Y-%m-%d}  {state}")


@site_key.command("revoke")
@click.argument("name")
def site_key_revoke(name: str) -> None:
    """Revoke the key of site NAME."""
    from moderation.services.sitekeys import revoke_site_key
    from moderation.web.database import get_session

    app = _app(SCORER_BACKEND="fixed")
    with app.app_context():
        session = get_session()
        if not revoke_site_key(session, name=name):
            raise click.ClickException(f"no active site key named {name!r}")
        session.commit()
    click.echo(f"revoked {name}")


@main.group()
def labels() -> None:
    """Labels sites sent back (Akismet submit-spam/ham, Perspective suggestscore).

    They wait as pending until accepted here; only accepted labels join training.
    """


@labels.command("list")
@click.option("--site", default=None, help="Only the labels of this site key (its name).")
@click.option(
    "--status",
    type=click.Choice(["pending", "accepted", "rejected"]),
    default=None,
    help="Only labels in this state.",
)
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
def labels_list(site: str | None, status: str | None, limit: int) -> None:
    """List labels: id, state, site, label and the start of the text."""
    from moderation.services.feedback import list_labels
    from moderation.storage.tables import SiteKey
    from moderation.web.database import get_session

    app = _app(SCORER_BACKEND="fixed")
    with app.app_context():
        session = get_session()
        names: dict[int | None, str] = {
            row.id: row.name for row in session.execute(select(SiteKey.id, SiteKey.name))
        }
        kinds = {(1, None): "spam", (0, None): "ham", (None, 1): "abuse", (None, 0): "civil"}
        for label in list_labels(session, site=site, status=status, limit=limit):
            kind = kinds.get((label.spam, label.abuse), f"spam={label.spam} abuse={label.abuse}")
            text = " ".join(label.content.split())[:60]
            click.echo(
                f"{label.id:>6}  {label.status:<8}  {names.get(label.site_key_id, '-'):<16}  "
                f"{kind:<6}  {text}"
            )


def _set_label_status(status: str, site: str | None, ids: tuple[int, ...]) -> None:
    from moderation.services.feedback import set_status
    from moderation.web.database import get_session

    if not ids and site is None:
        raise click.UsageError("give label ids, or --site NAME for all of its pending labels")
    app = _app(SCORER_BACKEND="fixed")
    with app.app_context():
        session = get_session()
        changed = set_status(session, status=status, site=site, ids=ids)
        session.commit()
    click.echo(f"{status} {changed} label(s)")


@labels.command("accept")
@click.argument("ids", nargs=-1, type=int)
@click.option("--site", default=None, help="Every pending label of this site key.")
def labels_accept(ids: tuple[int, ...], site: str | None) -> None:
    """Accept labels IDS (or all pending ones of --site) for training."""
    _set_label_status("accepted", site, ids)


@labels.command("reject")
@click.argument("ids", nargs=-1, type=int)
@click.option("--site", default=None, help="Every pending label of this site key.")
def labels_reject(ids: tuple[int, ...], site: str | None) -> None:
    """Reject labels IDS (or all pending ones of --site): they never train."""
    _set_label_status("rejected", site, ids)


@labels.command("purge")
@click.option("--site", required=True, help="The site key whose labels are deleted.")
def labels_purge(site: str) -> None:
    """Delete every label of a site key."""
    from moderation.services.feedback import purge
    from moderation.web.database import get_session

    app = _app(SCORER_BACKEND="fixed")
    with app.app_context():
        session = get_session()
        deleted = purge(session, site=site)
        session.commit()
    click.echo(f"deleted {deleted} label(s) of {site}")


@main.group()
def moderator() -> None:
    """Moderator accounts and API tokens."""


def _read_password(confirm: bool) -> str:
    if sys.stdin is not None and not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=confirm))


@moderator.command("create")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["moderator", "admin"]),
    default="moderator",
    show_default=True,
    help="Admins may also see and manage other moderators' work.",
)
def moderator_create(name: str, role: str) -> None:
    """Create moderator NAME; the password comes from a prompt or the first line of stdin."""
    from moderation.services.moderators import AccountError, create_moderator
    from moderation.storage.tables import Role
    from moderation.web.database import get_session

    password = _read_password(confirm=True)
    app = _app(SCORER_BACKEND="fixed")
    with app.app_context():
        session = get_session()
        try:
            create_moderator(session, name=name, role=Role(role), password=password)
        except AccountError as exc:
            raise click.ClickException(exc.message) from exc
        session.commit()
    click.echo(f"created {role} {name}")


@moderator.command("list")
def moderator_list() -> None:
    """List moderator accounts: name, role, and whether disabled."""
    from moderation.services.moderators import list_moderators

    with _session() as session:
        for account in list_moderators(session):
            state = "disabled" if account.disabled_at else "active"
            click.echo(f"{account.name:<24} {account.role.value:<10} {state}")


@moderator.command("enable")
@click.argument("name")
def moderator_enable(name: str) -> None:
    """Let disabled moderator NAME sign in again."""
    from moderation.services.moderators import AccountError, enable_moderator

    with _session() as session:
        try:
            enable_moderator(session, name=name)
        except AccountError as exc:
            raise click.ClickException(exc.message) from exc
        session.commit()
    click.echo(f"enabled {name}")


@moderator.command("reset-password")
@click.argument("name")
def moderator_reset_password(name: str) -> None:
    """Set a new password for NAME (from a prompt or the first line of stdin)."""
    from moderation.services.moderators import AccountError, set_password

    password = _read_password(confirm=True)
    with _session() as session:
        try:
            set_password(session, name=name, password=password)
        except AccountError as exc:
            raise click.ClickException(exc.message) from exc
        session.commit()
    click.echo(f"new password set for {name}")


@moderator.command("token")
@click.argument("name")
def moderator_token(name: str) -> None:
    """Print a new API token for moderator NAME (send it as Authorization: Bearer ...)."""
    from moderation.services.moderators import AccountError, create_token
    from moderation.web.database import get_session

    app = _app(SCORER_BACKEND="fixed")
    with app.app_context():
        session = get_session()
        try:
            token = create_token(session, name=name)
        except AccountError as exc:
            raise click.ClickException(exc.message) from exc
        session.commit()
    click.echo(token)


@moderator.command("disable")
@click.argument("name")
def moderator_disable(name: str) -> None:
    """Lock moderator NAME out: their sign-in sessions and API tokens stop working at once."""
    from moderation.services.moderators import AccountError, disable_moderator
    from moderation.web.database import get_session

    app = _app(SCORER_BACKEND="fixed")
    with app.app_context():
        session = get_session()
        try:
            disable_moderator(session, name=name)
        except AccountError as exc:
            raise click.ClickException(exc.message) from exc
        session.commit()
    click.echo(f"disabled {name}")


@moderator.command("revoke-tokens")
@click.argument("name")
def moderator_revoke_tokens(name: str) -> None:
    """Revoke every API token of moderator NAME."""
    from moderation.services.moderators import AccountError, revoke_tokens
    from moderation.web.database import get_session

    app = _app(SCORER_BACKEND="fixed")
    with app.app_context():
        session = get_session()
        try:
            count = revoke_tokens(session, name=name)
        except AccountError as exc:
            raise click.ClickException(exc.message) from exc
        session.commit()
    click.echo(f"revoked {count} token(s) of {name}")


# --------------------------------------------------------------------------- webhooks


@main.group()
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
    import signal

    from moderation.services.webhooks import run_deliverer
    from moderation.web.database import get_sessionmaker

    app = _app(SCORER_BACKEND="fixed")
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
    from moderation.services.webhooks import outbox_status
    from moderation.web.database import get_session

    app = _app(SCORER_BACKEND="fixed")
    with app.app_context():
        counts = outbox_status(get_session(), max_attempts=app.config["WEBHOOK_MAX_ATTEMPTS"])
    for name, count in counts.items():
        click.echo(f"{name}: {count}")


@webhooks.command("retry")
def webhooks_retry() -> None:
    """Give every failed (given up) event a new round of attempts."""
    from moderation.services.webhooks import retry_failed
    from moderation.web.database import get_session

    app = _app(SCORER_BACKEND="fixed")
    with app.app_context():
        session = get_session()
        count = retry_failed(session, max_attempts=app.config["WEBHOOK_MAX_ATTEMPTS"])
        session.commit()
    click.echo(f"{count} failed event(s) queued again")


# --------------------------------------------------------------------------- privacy


@main.command("purge")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=None,
    help="Erase the IP address, user agent and referrer of comments older than this many "
    "days (default: MODERATION_RETENTION_DAYS, 30; 0 there keeps them).",
)
@click.option(
    "--webhook-days",
    type=click.IntRange(min=1),
    default=None,
    help="Delete webhook events delivered more than this many days ago (default: "
    "MODERATION_WEBHOOK_RETENTION_DAYS, 7; 0 there keeps them).",
)
def privacy_purge(days: int | None, webhook_days: int | None) -> None:
    """Erase request metadata past the retention period and prune delivered webhook events.

    Run it from cron (e.g. hourly: ``0 * * * * .venv/bin/moderation purge``); the service also
    runs it itself, at most hourly and a bounded amount at a time.
    """
    from moderation.services import privacy
    from moderation.storage.db import utcnow
    from moderation.web.database import get_session

    app = _app(SCORER_BACKEND="fixed")
    retention = days if days is not None else int(app.config["RETENTION_DAYS"])
    webhook_retention = (
        webhook_days if webhook_days is not None else int(app.config["WEBHOOK_RETENTION_DAYS"])
    )
    with app.app_context():
        session = get_session()
        report = privacy.purge(
            session,
            now=utcnow(),
            retention_days=retention,
            webhook_retention_days=webhook_retention,
        )
        session.commit()
    if retention > 0:
        click.echo(
            f"comments: {report.comments} (IP address, user agent and referrer erased; "
            f"older than {retention} days)"
        )
    else:
        click.echo("comments: 0 (MODERATION_RETENTION_DAYS is 0: request metadata is kept)")
    if webhook_retention > 0:
        click.echo(
            f"webhook_events: {report.webhook_events} (deleted; delivered more than "
            f"{webhook_retention} days ago)"
        )
    else:
        click.echo("webhook_events: 0 (MODERATION_WEBHOOK_RETENTION_DAYS is 0: events are kept)")


@main.command("erase")
@click.option(
    "--email",
    default=None,
    help="Erase every comment with this email address (any case), and its feedback labels.",
)
@click.option("--ip", default=None, help="Erase every comment sent from this IP address.")
def privacy_erase(email: str | None, ip: str | None) -> None:
    """Anonymise one person's comments and delete or rewrite what refers to them.

    Comments stay, with their status and decisions, as "(erased)" with no email, website, IP
    address, user agent or referrer; feedback labels with the email are deleted; webhook
    events about the comments are rewritten (undelivered) or deleted (delivered). Give
    --email, --ip or both. Prints what changed, per table.
    """
    from moderation.services import privacy
    from moderation.web.database import get_session

    if not (email or "").strip() and not (ip or "").strip():
        raise click.UsageError("give --email ADDRESS, --ip ADDRESS or both")
    app = _app(SCORER_BACKEND="fixed")
    with app.app_context():
        session = get_session()
        report = privacy.erase(session, email=email, ip=ip)
        session.commit()
    click.echo(f"comments: {report.comments} anonymised")
    click.echo(f"decisions: {report.decisions} with personal details erased")
    click.echo(f"feedback_labels: {report.feedback_labels} deleted")
    click.echo(
        f"webhook_events: {report.webhook_events_rewritten} rewritten (undelivered), "
        f"{report.webhook_events_deleted} deleted (delivered)"
    )


@main.command("export")
@click.option("--email", required=True, help="The email address whose data is exported.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the JSON to this file (created readable by its owner only; default: stdout).",
)
def privacy_export(email: str, out: Path | None) -> None:
    """Write everything held about the person with this email as JSON: comments with their
    predictions and decisions, feedback labels, and webhook events about the comments."""
    from moderation.services import privacy
    from moderation.web.database import get_session

    if not email.strip():
        raise click.UsageError("--email must not be blank")
    app = _app(SCORER_BACKEND="fixed")
    with app.app_context():
        data = privacy.export(get_session(), email=email)
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    click.echo(f"wrote {len(data['comments'])} comment(s) to {out}", err=True)
