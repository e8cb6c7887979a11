"""The pipelines of the two heads, their calibration, and explanations of their scores.

Each head is a stock scikit-learn ``Pipeline`` (hashed word n-grams, optionally character
n-grams and metadata tokens, into a logistic regression) over :func:`to_rows`'s rows. Being
linear, a score is the logistic of a sum of per-feature contributions: :func:`explain`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils import murmurhash3_32

from moderation.ml.fastchar import char_wb_counts
from moderation.ml.features import (
    META_COLUMN,
    TEXT_COLUMN,
    TOKEN_PATTERN,
    CommentInput,
    describe,
    normalise_with_offsets,
    only_stop_words,
    original_span,
    scored_part,
    to_rows,
    tokens_with_spans,
)

TEXT_FEATURES = 2**19
CHAR_FEATURES = 2**19
META_FEATURES = 2**14


def build_pipeline(
    *,
    c: float = 4.0,
    metadata: bool = True,
    chars: tuple[int, int] | None = None,
    char_features: int = CHAR_FEATURES,
) -> Pipeline:
    """An unfitted head: TF-IDF word n-grams (and metadata tokens) into logistic regression.

    Features are hashed (no vocabulary is stored), which keeps the artifact small and quick
    to load; the n-grams behind a feature are recovered from the comment itself when
    explaining.

    :param metadata: use the metadata column. The abuse head does not: abuse is in the words,
        and author names or e-mail domains would only teach it who wrote its training data.
    :param chars: also character n-grams of these lengths inside word boundaries (``char_wb``),
        which carry misspellings, inflections and evasions that the word block misses.
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
    if chars is not None:
        char_block = Pipeline(
            [
                (
                    "hash",
                    HashingVectorizer(
                        analyzer="char_wb",
                        lowercase=False,
                        ngram_range=chars,
                        n_features=char_features,
                        alternate_sign=False,
                        norm=None,
                    ),
                ),
                ("tfidf", TfidfTransformer(sublinear_tf=True)),
            ]
        )
        columns.append(("chars", char_block, TEXT_COLUMN))
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


def platt_scaling(logits: np.ndarray[Any, Any], labels: Sequence[int]) -> tuple[float, float]:
    """The slope and offset ``(a, b)`` of Platt scaling fitted on held-out log-odds."""
    platt = LogisticRegression(C=1e6, solver="lbfgs", max_iter=1000)
    platt.fit(np.asarray(logits).reshape(-1, 1), np.asarray(labels))
    return float(platt.coef_[0, 0]), float(platt.intercept_[0])


def fold_platt_scaling(pipeline: Pipeline, a: float, b: float) -> None:
    """Fold Platt scaling into a fitted head's classifier: ``coef * a``, ``intercept * a + b``.

    Exactly the probabilities of a separate sigmoid calibrator, with a stock pipeline.
    """
    classifier: LogisticRegression = pipeline.named_steps["classifier"]
    classifier.coef_ = classifier.coef_ * a
    classifier.intercept_ = classifier.intercept_ * a + b


@dataclass(frozen=True, slots=True)
class Contribution:
    """One feature's push on a head's log-odds, with where it sits in the original text.

    ``feature`` is the model's own name (``viagra``, ``email_digits``); ``label`` says it in
    plain words for moderators (``"viagra"``, "email has many digits").
    """

    feature: str
    weight: float
    spans: tuple[tuple[int, int], ...]
    label: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "feature": self.feature,
            "label": self.label or describe(self.feature),
            "weight": round(self.weight, 4),
            "spans": [list(s) for s in self.spans],
        }


# What an explanation shows (see :func:`explain`). Weights are log-odds: a contribution of
# MIN_WEIGHT alone multiplies the odds by e**0.5 = 1.65 (a score of 0.20 becomes 0.29); less
# than that is noise a moderator should not be asked to read. RELATIVE_WEIGHT keeps only what
# is comparable to the strongest reason: beside "idiot" (+7.9) a "should" (+0.46) says
# nothing. A head whose score is below QUIET_SHARE of its allow threshold is not explained at
# all: it did not hold or refuse the comment and was not close to doing so.
MIN_WEIGHT = 0.5
RELATIVE_WEIGHT = 0.2
QUIET_SHARE = 0.5


_KNOWN_GRAMS = 200_000  # per feature block: a few tens of MB at most


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
    setup: str  # the hashing parameters: blocks with the same setup hash the same grams
    # Grams seen before and their indices: most of a comment's words and character n-grams
    # have been hashed already (a dictionary look-up costs a tenth of a hash). Bounded.
    known: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def index(self, gram: str) -> int:
        """The block-local feature index of a token or n-gram (as HashingVectorizer hashes)."""
        found = self.known.get(gram)
        if found is None:
            found = abs(int(murmurhash3_32(gram, seed=0))) % self.n_features
            if len(self.known) >= _KNOWN_GRAMS:
                self.known.clear()
            self.known[gram] = found
        return found


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
                setup=repr(sorted(hasher.get_params().items())),
            )
        )
    return tuple(blocks)


class CompiledHead:
    """A fitted head evaluated directly from its fitted parameters, one row at a time.

    It computes exactly what ``pipeline.predict_proba`` computes (the same analyzers from
    ``build_analyzer()``, the same hashing, idf weights, norms and coefficients) without
    scikit-learn's per-call validation, which costs more than the arithmetic for a single
    comment. Kept because ``benchmarks/bench_model.py`` ("one comment, one head") shows it
    many times faster than ``predict_proba`` for the intake's one comment; kept correct by
    ``tests/unit/test_model.py::test_compiled_head_equals_predict_proba`` (and its
    character n-gram variant), which compare it with ``predict_proba``.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        classifier: LogisticRegression = pipeline.named_steps["classifier"]
        self.coef = np.asarray(classifier.coef_[0], dtype=float)
        self.intercept = float(classifier.intercept_[0])
        self.blocks = _blocks(pipeline.named_steps["features"])

    def features(
        self, row: Sequence[str], shared: dict[Any, Any] | None = None
    ) -> list[tuple[_Block, dict[int, list[str]], np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
        """Per block: the grams behind each index, the indices and their feature values.

        ``shared`` caches the hashed grams of a row across heads whose blocks hash the same
        column the same way (both heads read the same words and character n-grams).
        """
        out = []
        for block in self.blocks:
            key = ("grams", block.column, block.setup)
            grams = shared.get(key) if shared is not None else None
            if grams is None:
                grams = {}
                for gram, count in Counter(block.analyzer(row[block.column])).items():
                    grams.setdefault(block.index(gram), []).extend([gram] * count)
                if shared is not None:
                    shared[key] = grams
            if not grams:
                continue
            indices = np.fromiter(grams.keys(), dtype=np.intp, count=len(grams))
            counts = np.fromiter((len(g) for g in grams.values()), dtype=float, count=len(grams))
            out.append((block, grams, indices, _weighted(block, indices, counts)))
        return out

    def decision(self, row: Sequence[str], shared: dict[Any, Any] | None = None) -> float:
        """The log-odds for one row of :func:`moderation.ml.features.to_rows`.

        The same values as :meth:`features` gives, without keeping the grams behind each index
        (only an explanation needs them).
        """
        total = self.intercept
        for block in self.blocks:
            key = ("counts", block.column, block.setup)
            hashed = shared.get(key) if shared is not None else None
            if hashed is None:
                hashed = _hashed_counts(block, row[block.column])
                if shared is not None:
                    shared[key] = hashed
            indices, counts = hashed
            if len(indices):
                values = _weighted(block, indices, counts)
                total += float(np.dot(values, self.coef[indices + block.offset]))
        return total

    def probability(self, row: Sequence[str], shared: dict[Any, Any] | None = None) -> float:
        """The calibrated probability for one row."""
        return float(1.0 / (1.0 + np.exp(-self.decision(row, shared))))


def _hashed_counts(block: _Block, text: str) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The block's feature indices in ``text`` and how often each occurs (as the hasher counts:
    n-grams that share an index add up)."""
    counts: dict[int, int] = {}
    index = block.index
    for gram, count in Counter(block.analyzer(text)).items():
        i = index(gram)
        counts[i] = counts.get(i, 0) + count
    return (
        np.fromiter(counts.keys(), dtype=np.intp, count=len(counts)),
        np.fromiter(counts.values(), dtype=float, count=len(counts)),
    )


def _weighted(
    block: _Block, indices: np.ndarray[Any, Any], counts: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """Counts to feature values: binary or sublinear tf, idf, unit length (a new array)."""
    if block.binary:
        values = np.ones(len(counts))
    elif block.sublinear:
        values = np.log(counts) + 1.0
    else:
        values = counts.copy()
    if block.idf is not None:
        values *= block.idf[indices]
    if block.l2:
        values /= np.sqrt(np.dot(values, values))
    return values


def predict_many(
    pipelines: Mapping[str, Pipeline], rows: np.ndarray[Any, Any]
) -> dict[str, np.ndarray[Any, Any]]:
    """Each head's probabilities for a batch of rows: ``predict_proba`` of every pipeline.

    The same numbers as ``pipelines[head].predict_proba(rows)[:, 1]``, computed faster: a
    hashing block that two heads share (same column, same parameters) is computed once, and
    character n-grams come from :func:`moderation.ml.fastchar.char_wb_counts` (NumPy over the
    batch) instead of scikit-learn's per-n-gram Python loop.
    """
    cache: dict[tuple[Any, ...], Any] = {}
    out = {}
    for head, pipeline in pipelines.items():
        features: ColumnTransformer = pipeline.named_steps["features"]
        blocks = []
        for name, transformer, column in features.transformers_:
            if name == "remainder" or isinstance(transformer, str):
                continue
            weighting = transformer.steps[-1][1] if isinstance(transformer, Pipeline) else None
            counts = block_counts(cache, transformer, rows[:, column], column)
            blocks.append(weighting.transform(counts) if weighting is not None else counts)
        matrix = sparse.hstack(blocks, format="csr")
        classifier: LogisticRegression = pipeline.named_steps["classifier"]
        out[head] = classifier.predict_proba(matrix)[:, 1]
    return out


def block_counts(cache: dict[tuple[Any, ...], Any], block: Any, texts: Any, column: Any) -> Any:
    """The hashed counts of a feature block (its hashing step) for ``texts``, cached by setup.

    Hashing learns nothing, so the counts of one column under one hashing setup are the same
    for every head and every fit; the cache key is the column and the hasher's parameters.
    """
    hasher = block.steps[0][1] if isinstance(block, Pipeline) else block
    params = hasher.get_params()
    key = (column, tuple(sorted((k, repr(v)) for k, v in params.items())))
    if key not in cache:
        fast = (
            isinstance(hasher, HashingVectorizer)
            and params["analyzer"] == "char_wb"
            and not params["lowercase"]
            and not params["alternate_sign"]
            and not params["binary"]
            and params["norm"] is None
            and params["preprocessor"] is None
            and params["strip_accents"] is None
            and params["dtype"] is np.float64
        )
        cache[key] = (
            char_wb_counts(
                list(texts), ngram_range=params["ngram_range"], n_features=params["n_features"]
            )
            if fast
            else hasher.transform(texts)
        )
    return cache[key]


def explain(
    pipeline: Pipeline | CompiledHead,
    comment: CommentInput,
    *,
    top: int = 8,
    shared: dict[Any, Any] | None = None,
    allow: float | None = None,
    complete: bool = False,
) -> list[Contribution]:
    """The features that pushed this head's score up and matter, strongest first.

    Words and word pairs carry the character spans ``[start, end)`` of each occurrence in
    ``comment.content``; metadata tokens (``links=2+``, ``url_tld=xyz``) carry none. Character
    n-grams are not shown as such ("dio", "iot"): each one's weight is shared among its
    occurrences and added to the words they fall in, so "idiot" carries its word weight and
    the weight of its character n-grams.

    Only what matters is kept: no word or pair made of stop words alone ("is", "to the"), unless
    they are all that raised a score at or above ``allow``, and nothing weighing less than
    :data:`MIN_WEIGHT` or :data:`RELATIVE_WEIGHT` of the strongest remaining feature.

    :param allow: the head's allow threshold: below :data:`QUIET_SHARE` of it the score
        explains no decision, and nothing is returned.
    :param complete: every feature that raised the score, with none of the rules above (what
        Perspective's span scores are computed from).
    """
    head = pipeline if isinstance(pipeline, CompiledHead) else CompiledHead(pipeline)
    row = to_rows([comment])[0]
    features = head.features(row, shared)
    decisive = False  # the score is at or above allow: it held or refused the comment
    if not complete and allow is not None:
        logit = head.intercept + sum(
            float(np.dot(values, head.coef[indices + block.offset]))
            for block, _, indices, values in features
        )
        score = 1.0 / (1.0 + np.exp(-logit))
        if score < QUIET_SHARE * allow:
            return []
        decisive = score >= allow
    scored = scored_part(comment.content)
    normalised, offsets = normalise_with_offsets(scored)
    tokens = tokens_with_spans(normalised)
    spans: dict[str, list[tuple[int, int]]] = {}
    for i, (token, start, end) in enumerate(tokens):
        spans.setdefault(token, []).append((start, end))
        if i + 1 < len(tokens):
            nxt = tokens[i + 1]
            spans.setdefault(f"{token} {nxt[0]}", []).append((start, nxt[2]))
    words: dict[str, float] = {}  # text features by name: a word, a word pair, a word's chars
    meta: list[Contribution] = []
    for block, grams, indices, values in features:
        weights = values * head.coef[indices + block.offset]
        if block.name == "chars":
            _add_char_weights(words, spans, block, grams, indices, weights, normalised, tokens)
            continue
        for index, weight in zip(indices.tolist(), weights.tolist(), strict=True):
            names = sorted(set(grams[index]))
            if block.name != "text":
                if weight > 0:
                    name = " | ".join(names)
                    meta.append(Contribution(name, float(weight), (), describe(name)))
                continue
            for name in names:  # a hash shared by several n-grams: shared weight
                words[name] = words.get(name, 0.0) + weight / len(names)
    raised = [
        Contribution(
            name,
            weight,
            tuple(
                original_span(offsets, s, e, len(scored)) for s, e in spans.get(name, ()) if e > s
            ),
            describe(name),
        )
        for name, weight in words.items()
        if weight > 0
    ]
    contributions = [c for c in raised if complete or not only_stop_words(c.feature)] + meta
    if decisive and not contributions:
        # Stop words are all there is ("a", or a keyboard run that normalises to it): the
        # honest explanation of a decision is then the stop words, not nothing.
        contributions = raised
    contributions.sort(key=lambda c: (-c.weight, c.feature))
    if not complete and contributions:
        cut = max(MIN_WEIGHT, RELATIVE_WEIGHT * contributions[0].weight)
        contributions = [c for c in contributions if c.weight >= cut]
    return contributions[:top]


def _add_char_weights(
    words: dict[str, float],
    spans: dict[str, list[tuple[int, int]]],
    block: _Block,
    grams: dict[int, list[str]],
    indices: np.ndarray[Any, Any],
    weights: np.ndarray[Any, Any],
    normalised: str,
    tokens: Sequence[tuple[str, int, int]],
) -> None:
    """Share each character n-gram's weight among its occurrences, and add it to their words.

    ``char_wb`` reads whitespace-separated words; their n-grams go to the word tokens inside
    (a token-less word, like a lone letter or "!!!", counts as a word of its own).
    """
    per_occurrence: dict[str, float] = {}
    for index, weight in zip(indices.tolist(), weights.tolist(), strict=True):
        for gram in grams[index]:
            per_occurrence[gram] = weight / len(grams[index])
    position = 0
    for match in _WHITESPACE_WORD_RE.finditer(normalised):
        total = sum(per_occurrence.get(g, 0.0) for g in block.analyzer(match.group()))
        while position < len(tokens) and tokens[position][2] <= match.start():
            position += 1
        inside = []
        following = position
        while following < len(tokens) and tokens[following][1] < match.end():
            inside.append(tokens[following][0])  # tokens never hold whitespace
            following += 1
        if not inside:
            inside = [match.group()]
            spans.setdefault(match.group(), []).append((match.start(), match.end()))
        for name in inside:
            words[name] = words.get(name, 0.0) + total / len(inside)


_WHITESPACE_WORD_RE = re.compile(r"\S+")
