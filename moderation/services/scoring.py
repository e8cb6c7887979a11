"""Scorers: the interface the services use, the real scikit-learn one, a fixed one, and the
holder that swaps in a newly activated model (the app keeps it in
:mod:`moderation.web.extensions`)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import sklearn
from sqlalchemy import Engine

from moderation.domain.policy import HEADS, Thresholds
from moderation.ml.artifacts import ArtifactError, ModelArtifact, ModelStore
from moderation.ml.features import CommentInput, to_rows
from moderation.ml.model import CompiledHead, Contribution, explain, predict_many
from moderation.services import model_registry

Scores = dict[str, float]
log = logging.getLogger(__name__)


@runtime_checkable
class Scorer(Protocol):
    """Scores comments for spam and abuse."""

    @property
    def version(self) -> str:
        """The model version the scores come from."""

    @property
    def thresholds(self) -> Mapping[str, Thresholds]:
        """Per-head thresholds that come with the model."""

    def score_many(self, comments: Sequence[CommentInput]) -> list[Scores]:
        """``{"spam": p, "abuse": p}`` per comment, in order."""

    def explain(
        self, comment: CommentInput, *, top: int = 8, complete: bool = False
    ) -> dict[str, list[Contribution]]:
        """Per head, the features that pushed the score up and matter to a moderator.

        ``complete``: every feature that raised a score, unfiltered (for span scores).
        """


# Batches at least this large go through scikit-learn's vectorised transform; smaller ones
# through the compiled heads, which skip scikit-learn's per-call overhead.
_BATCH = 64


@dataclass
class SklearnScorer:
    """Scores with a loaded model artifact."""

    artifact: ModelArtifact
    strictness: str | None = None  # None: the model's default thresholds

    def __post_init__(self) -> None:
        self._compiled = {head: CompiledHead(self.artifact.pipelines[head]) for head in HEADS}
        self._thresholds = self.artifact.thresholds_at(self.strictness)

    @property
    def version(self) -> str:
        """The artifact's version."""
        return self.artifact.version

    @property
    def thresholds(self) -> Mapping[str, Thresholds]:
        """The artifact's thresholds at the configured strictness."""
        return self._thresholds

    def score_many(self, comments: Sequence[CommentInput]) -> list[Scores]:
        """Score a batch; features are built once and shared by both heads."""
        if not comments:
            return []
        rows = to_rows(comments)
        if len(comments) < _BATCH:
            scores = []
            for row in rows:
                shared: dict[Any, Any] = {}  # both heads hash the same words once
                scores.append(
                    {head: self._compiled[head].probability(row, shared) for head in HEADS}
                )
            return scores
        # Inputs are our own arrays: skip scikit-learn's per-call validation on the hot path.
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            columns = predict_many(self.artifact.pipelines, rows)
        return [{head: float(columns[head][i]) for head in HEADS} for i in range(len(comments))]

    def score(self, comment: CommentInput) -> Scores:
        """Score one comment."""
        return self.score_many([comment])[0]

    def explain(
        self, comment: CommentInput, *, top: int = 8, complete: bool = False
    ) -> dict[str, list[Contribution]]:
        """Per head, the n-grams and metadata tokens that pushed the score up and matter.

        A head whose score is far below its allow threshold explains nothing (see
        :func:`moderation.ml.model.explain` for the cut-off and the stop words).
        """
        shared: dict[Any, Any] = {}
        return {
            head: explain(
                self._compiled[head],
                comment,
                top=top,
                shared=shared,
                allow=self._thresholds[head].allow,
                complete=complete,
            )
            for head in HEADS
        }


@dataclass
class FixedScorer:
    """Gives every comment the same scores: for tests and for running without a model."""

    scores: Mapping[str, float]
    thresholds: Mapping[str, Thresholds]
    version: str = "fixed"

    def score_many(self, comments: Sequence[CommentInput]) -> list[Scores]:
        """The fixed scores, once per comment."""
        return [dict(self.scores) for _ in comments]

    def explain(
        self, comment: CommentInput, *, top: int = 8, complete: bool = False
    ) -> dict[str, list[Contribution]]:
        """A fixed scorer has nothing to explain."""
        return {head: [] for head in HEADS}


DEFAULT_FIXED_THRESHOLDS = {"spam": Thresholds(0.5, 0.9), "abuse": Thresholds(0.5, 0.9)}


def load_scorer(config: Mapping[str, Any]) -> Scorer:
    """The scorer the config asks for.

    :raises ArtifactError: the model cannot be found or fails verification.
    """
    if config["SCORER_BACKEND"] == "fixed":
        return FixedScorer(dict(config["FIXED_SCORES"]), DEFAULT_FIXED_THRESHOLDS)
    if config["SCORER_BACKEND"] != "sklearn":
        raise ArtifactError(f"unknown scorer backend {config['SCORER_BACKEND']!r}")
    artifact = model_store(config).load(config.get("MODEL_VERSION") or None)
    return SklearnScorer(artifact, strictness=config.get("STRICTNESS"))


def model_store(config: Mapping[str, Any]) -> ModelStore:
    """The configured model folders (trained versions over the shipped ones)."""
    shipped = config.get("SHIPPED_MODELS_DIR")
    return ModelStore(Path(config["MODELS_DIR"]), Path(shipped) if shipped else None)


class ScorerHolder:
    """The process's scorer, swapped for the newly activated model without a restart.

    At most every ``RELOAD_SECONDS`` a request looks up the active version: the database's
    latest activation (shared by every instance; see :mod:`moderation.services.model_registry`),
    else the ``ACTIVE`` file pointer. When it names another version, that version is unpacked
    from the database if this host lacks it, loaded and verified, then replaces the old scorer
    in one assignment. Requests already scoring keep the scorer they started with. A version
    that fails to load, or a lookup that fails, leaves the old scorer in place.
    """

    def __init__(self, config: Mapping[str, Any], engine: Engine | None = None) -> None:
        self.config = dict(config)
        self.scorer: Scorer | None = None
        self.error: str | None = None
        self._engine = engine
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        self._failed: str | None = None  # a version that failed to load: not retried
        self._lookup_error: str | None = None
        self._follow = config["SCORER_BACKEND"] == "sklearn" and not config.get("MODEL_VERSION")
        self._load(self._wanted() if self._follow else None)

    def _wanted(self) -> str | None:
        """The version to serve (unpacked here from the database if needed), or ``None`` for
        the file pointer's when the lookup fails."""
        store = model_store(self.config)
        try:
            if self._engine is not None:
                connection = self._engine.execution_options(sqlite_begin="DEFERRED").connect()
                with connection:
                    recorded = model_registry.active(connection)
                    if recorded is not None:
                        current = self.scorer.version if self.scorer is not None else None
                        if recorded.version not in (current, self._failed):
                            try:
                                model_registry.ensure_local(connection, store, recorded)
                            except Exception:
                                # Not fetched again on every look (its files are megabytes)
                                # until another version is activated or the process restarts.
                                self._failed = recorded.version
                                raise
                        self._lookup_error = None
                        return recorded.version
            found = store.active()
        except Exception as exc:  # the database or the folder unreadable: keep what we have
            message = f"{exc.__class__.__name__}: {exc}"
            if message != self._lookup_error:
                log.warning("cannot look up the active model: %s", message)
            self._lookup_error = message
            return None
        self._lookup_error = None
        return found

    def _load(self, version: str | None = None) -> None:
        config = dict(self.config)
        if version is not None:
            config["MODEL_VERSION"] = version
        try:
            self.scorer = load_scorer(config)
            self.error = None
        except Exception as exc:  # a broken artifact must not take the service down
            self.error = f"{exc.__class__.__name__}: {exc}"
            self._failed = version
            log.error("model %s not loaded: %s", version or "(active)", self.error)

    def get(self) -> Scorer | None:
        """The current scorer, after a cheap periodic look for a newly activated version."""
        if self._follow:
            now = time.monotonic()
            if now - self._checked >= float(self.config["RELOAD_SECONDS"]):
                self._checked = now
                self._maybe_reload()
        return self.scorer

    def _maybe_reload(self) -> None:
        if not self._lock.acquire(blocking=False):
            return
        try:
            wanted = self._wanted()
            current = self.scorer.version if self.scorer is not None else None
            if wanted is None or wanted == current or wanted == self._failed:
                return
            log.info("switching model %s -> %s", current, wanted)
            self._load(wanted)
        finally:
            self._lock.release()


def scores_json(scores: Scores) -> dict[str, Any]:
    """Scores rounded for JSON output."""
    return {head: round(scores[head], 4) for head in HEADS}
