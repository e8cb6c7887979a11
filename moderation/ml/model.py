"""The pipelines of the two heads, their calibration, and explanations of their scores.

Each head is one stock scikit-learn ``Pipeline``:

    ColumnTransformer(text: TfidfVectorizer word 1-2-grams, meta: binary metadata tokens)
    -> LogisticRegression

over the rows built by :func:`moderation.ml.features.to_rows`. Because the classifier is linear,
every score is the logistic of a sum of per-feature contributions, which is what
:func:`explain` reports, with the character spans of each n-gram in the original text.

Calibration is Platt scaling fitted on validation data and folded into the logistic
regression (``coef * a``, ``intercept * a + b``): exactly the same probabilities as a separate
sigmoid calibrator, with the artifact still a plain stock pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils import murmurhash3_32

from moderation.ml.features import (
    META_COLUMN,
    TEXT_COLUMN,
    TOKEN_PATTERN,
    CommentInput,
    normalise_with_offsets,
    original_span,
    scored_part,
    to_rows,
    tokens_with_spans,
)

TEXT_FEATURES = 2**19
META_FEATURES = 2**14


def build_pipeline(*, c: float = 4.0, metadata: bool = True) -> Pipeline:
    """An unfitted head: TF-IDF word n-grams (and metadata tokens) into logistic regression.

    Features are hashed (no vocabulary is stored), which keeps the artifact small and quick
    to load; the n-grams behind a feature are recovered from the comment itself when
    explaining.

    :param metadata: use the metadata column. The abuse head does not: abuse is in the words,
        and author names or e-mail domains would only teach it who wrote its training data.
    """
    text = Pipeline(
        [
            (
                "hash",
                HashingVectorizer(
                    token_pattern=TOKEN_PATTERN,
                    lowercase=False,  # features.normalise already lower-cases
                    ngram_range=(1, 2),
                    n_features=TEXT_FEATURES,
                    alternate_sign=False,
                    norm=None,
                ),
            ),
            ("tfidf", TfidfTransformer(sublinear_tf=True)),
        ]
    )
    columns: list[tuple[str, Any, int]] = [("text", text, TEXT_COLUMN)]
    if metadata:
        meta = HashingVectorizer(
            token_pattern=r"\S+",  # noqa: S106 - a regex, not a secret
            lowercase=False,
            n_features=META_FEATURES,
            alternate_sign=False,
            binary=True,
            # Unit length, like the text block, so the classifier's regularisation holds
            # the handful of metadata tokens to the same scale as the words.
            norm="l2",
        )
        columns.append(("meta", meta, META_COLUMN))
    features = ColumnTransformer(columns, sparse_threshold=1.0)
    classifier = LogisticRegression(C=c, solver="liblinear", max_iter=1000, random_state=0)
    return Pipeline([("features", features), ("classifier", classifier)])


def fold_platt_scaling(
    pipeline: Pipeline, rows: np.ndarray[Any, Any], labels: Sequence[int]
) -> tuple[float, float]:
    """Calibrate a fitted head on held-out rows by Platt scaling folded into its classifier.

    :returns: the fitted slope and offset ``(a, b)``.
    """
    decision = pipeline.decision_function(rows).reshape(-1, 1)
    platt = LogisticRegression(C=1e6, solver="lbfgs", max_iter=1000)
    platt.fit(decision, np.asarray(labels))
    a, b = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    classifier: LogisticRegression = pipeline.named_steps["classifier"]
    classifier.coef_ = classifier.coef_ * a
    classifier.intercept_ = classifier.intercept_ * a + b
    return a, b


@dataclass(frozen=True, slots=True)
class Contribution:
    """One feature's push on a head's log-odds, with where it sits in the original text."""

    feature: str
    weight: float
    spans: tuple[tuple[int, int], ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "feature": self.feature,
            "weight": round(self.weight, 4),
            "spans": [list(s) for s in self.spans],
        }


@dataclass(frozen=True)
class _Block:
    """One hashed feature block of a head, as plain arrays."""

    name: str
    analyzer: Any
    column: int
    n_features: int
    offset: int
    binary: bool
    sublinear: bool
    idf: np.ndarray[Any, Any] | None
    l2: bool

    def index(self, gram: str) -> int:
        """The block-local feature index of a token or n-gram (as HashingVectorizer hashes)."""
        return abs(int(murmurhash3_32(gram, seed=0))) % self.n_features


def _blocks(features: ColumnTransformer) -> tuple[_Block, ...]:
    blocks = []
    for name, transformer, column in features.transformers_:
        if name == "remainder" or transformer == "drop":
            continue
        tfidf = None
        hasher = transformer
        if isinstance(transformer, Pipeline):
            hasher, tfidf = transformer.named_steps["hash"], transformer.named_steps["tfidf"]
        if not isinstance(hasher, HashingVectorizer) or hasher.alternate_sign:
            raise TypeError(f"cannot compile feature block {name!r}: {transformer!r}")
        if hasher.norm not in ("l2", None) or (
            tfidf is not None and tfidf.norm not in ("l2", None)
        ):
            raise TypeError(f"cannot compile the norms of feature block {name!r}")
        if tfidf is not None and hasher.norm is not None:
            raise TypeError(f"feature block {name!r} normalises twice")
        blocks.append(
            _Block(
                name=name,
                analyzer=hasher.build_analyzer(),
                column=int(column),
                n_features=int(hasher.n_features),
                offset=int(features.output_indices_[name].start),
                binary=bool(hasher.binary),
                sublinear=bool(tfidf is not None and tfidf.sublinear_tf),
                idf=np.asarray(tfidf.idf_) if tfidf is not None and tfidf.use_idf else None,
                l2=(tfidf.norm if tfidf is not None else hasher.norm) == "l2",
            )
        )
    return tuple(blocks)


class CompiledHead:
    """A fitted head evaluated directly from its fitted parameters, one row at a time.

    It computes exactly what ``pipeline.predict_proba`` computes (the same analyzers from
    ``build_analyzer()``, the same hashing, idf weights, norms and coefficients) without
    scikit-learn's per-call validation, which costs more than the arithmetic for a single
    comment. A test checks it against ``predict_proba`` on the training corpus.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        classifier: LogisticRegression = pipeline.named_steps["classifier"]
        self.coef = np.asarray(classifier.coef_[0], dtype=float)
        self.intercept = float(classifier.intercept_[0])
        self.blocks = _blocks(pipeline.named_steps["features"])

    def features(
        self, row: Sequence[str]
    ) -> list[tuple[_Block, dict[int, list[str]], np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
        """Per block: the grams behind each index, the indices and their feature values."""
        out = []
        for block in self.blocks:
            grams: dict[int, list[str]] = {}
            for gram in block.analyzer(row[block.column]):
                grams.setdefault(block.index(gram), []).append(gram)
            if not grams:
                continue
            indices = np.fromiter(grams.keys(), dtype=np.intp, count=len(grams))
            if block.binary:
                values = np.ones(len(grams))
            else:
                values = np.fromiter(
                    (len(g) for g in grams.values()), dtype=float, count=len(grams)
                )
                if block.sublinear:
                    values = np.log(values) + 1.0
            if block.idf is not None:
                values *= block.idf[indices]
            if block.l2:
                values /= np.sqrt(np.dot(values, values))
            out.append((block, grams, indices, values))
        return out

    def decision(self, row: Sequence[str]) -> float:
        """The log-odds for one row of :func:`moderation.ml.features.to_rows`."""
        total = self.intercept
        for block, _, indices, values in self.features(row):
            total += float(np.dot(values, self.coef[indices + block.offset]))
        return total

    def probability(self, row: Sequence[str]) -> float:
        """The calibrated probability for one row."""
        return float(1.0 / (1.0 + np.exp(-self.decision(row))))


def explain(
    pipeline: Pipeline | CompiledHead, comment: CommentInput, *, top: int = 8
) -> list[Contribution]:
    """The features that pushed this head's score up, strongest first.

    Text n-grams carry the character spans ``[start, end)`` of each occurrence in
    ``comment.content``; metadata tokens (``links=2+``, ``url_tld=xyz``) carry none.
    """
    head = pipeline if isinstance(pipeline, CompiledHead) else CompiledHead(pipeline)
    row = to_rows([comment])[0]
    scored = scored_part(comment.content)
    normalised, offsets = normalise_with_offsets(scored)
    tokens = tokens_with_spans(normalised)
    spans: dict[str, list[tuple[int, int]]] = {}
    for i, (token, start, end) in enumerate(tokens):
        spans.setdefault(token, []).append((start, end))
        if i + 1 < len(tokens):
            nxt = tokens[i + 1]
            spans.setdefault(f"{token} {nxt[0]}", []).append((start, nxt[2]))
    contributions = []
    for block, grams, indices, values in head.features(row):
        weights = values * head.coef[indices + block.offset]
        for index, weight in zip(indices.tolist(), weights.tolist(), strict=True):
            if weight <= 0:
                continue
            names = sorted(set(grams[index]))
            original: tuple[tuple[int, int], ...] = ()
            if block.name == "text":
                original = tuple(
                    original_span(offsets, s, e, len(scored))
                    for name in names
                    for s, e in spans.get(name, ())
                    if e > s
                )
            contributions.append(Contribution(" | ".join(names), float(weight), original))
    contributions.sort(key=lambda c: -c.weight)
    return contributions[:top]
