"""Scorers: the interface the services use, the real scikit-learn one and a fixed one."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import sklearn
from flask import Flask, current_app

from moderation.ml.artifacts import HEADS, ArtifactError, ModelArtifact, ModelStore
from moderation.ml.features import CommentInput, to_rows
from moderation.ml.model import CompiledHead, Contribution, explain, predict_many
from moderation.services.policy import Thresholds

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


EXTENSION = "moderation.scorer"
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

    At most every ``RELOAD_SECONDS`` a request looks at the ``ACTIVE`` pointer; when it names
    another version, that version is loaded and verified, then replaces the old scorer in one
    assignment. Requests already scoring keep the scorer they started with. A version that
    fails to load leaves the old one in place.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = dict(config)
        self.scorer: Scorer | None = None
        self.error: str | None = None
        self._lock = threading.Lock()
        self._checked = 0.0
        self._follow = config["SCORER_BACKEND"] == "sklearn" and not config.get("MODEL_VERSION")
        self._load()

    def _load(self, version: str | None = None) -> None:
        config = dict(self.config)
        if version is not None:
            config["MODEL_VERSION"] = version
        try:
            self.scorer = load_scorer(config)
            self.error = None
        except Exception as exc:  # a broken artifact must not take the service down
            self.error = f"{exc.__class__.__name__}: {exc}"
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
        active = model_store(self.config).active()
        current = self.scorer.version if self.scorer is not None else None
        if active is None or active == current or not self._lock.acquire(blocking=False):
            return
        try:
            log.info("switching model %s -> %s", current, active)
            self._load(active)
        finally:
            self._lock.release()


def init_app(app: Flask) -> None:
    """Load the model once per process; without one, comments wait for review."""
    holder = ScorerHolder(app.config)
    if holder.scorer is None:
        app.logger.error("no model loaded, every comment will wait for review: %s", holder.error)
    app.extensions[EXTENSION] = holder


def get_scorer() -> Scorer | None:
    """The current app's scorer, or ``None`` when no model could be loaded."""
    holder: ScorerHolder = current_app.extensions[EXTENSION]
    return holder.get()


def scores_json(scores: Scores) -> dict[str, Any]:
    """Scores rounded for JSON output."""
    return {head: round(scores[head], 4) for head in HEADS}
