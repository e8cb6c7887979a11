"""The head pipelines: calibration folding, the compiled scorer and explanations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from moderation.ml.features import CommentInput, to_rows
from moderation.ml.model import (
    CompiledHead,
    build_pipeline,
    explain,
    fold_platt_scaling,
    platt_scaling,
    predict_many,
)
from tests.conftest import TINY_TEXTS

pytestmark = pytest.mark.unit

SAMPLES = [
    CommentInput("Buy cheap V1AGRA now!!! http://pills.example", "cheap pills", "a1@b.ru", "x.xyz"),
    CommentInput("thanks for the article, very clear and fair"),
    CommentInput(""),
    CommentInput("unseen words only: zyxw qwerty"),
    CommentInput("casino casino casino bonus bonus", url="https://casino.example/bonus"),
]


def test_compiled_head_equals_predict_proba(tiny_pipeline: Pipeline) -> None:
    compiled = CompiledHead(tiny_pipeline)
    rows = to_rows(SAMPLES)
    expected = tiny_pipeline.predict_proba(rows)[:, 1]
    got = np.array([compiled.probability(row) for row in rows])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_platt_folding_keeps_ranking_and_moves_probabilities() -> None:
    pipeline = build_pipeline(c=10.0)
    rows = to_rows([CommentInput(t) for t, _ in TINY_TEXTS])
    labels = [y for _, y in TINY_TEXTS]
    pipeline.fit(rows, np.array(labels))
    before = pipeline.decision_function(rows)
    a, b = platt_scaling(before, labels)
    fold_platt_scaling(pipeline, a, b)
    after = pipeline.decision_function(rows)
    assert a > 0  # a monotone map: the ranking is kept
    np.testing.assert_allclose(after, a * before + b, atol=1e-9)
    assert not np.allclose(before, after)


def test_explain_gives_spans_in_the_original_text(tiny_pipeline: Pipeline) -> None:
    text = "Best C4SINO bonus, click here"
    contributions = explain(tiny_pipeline, CommentInput(text), top=20)
    assert contributions
    assert [c.weight for c in contributions] == sorted(
        (c.weight for c in contributions), reverse=True
    )
    by_feature = {c.feature: c for c in contributions}
    assert "casino" in by_feature
    (start, end), *_ = by_feature["casino"].spans
    assert text[start:end] == "C4SINO"
    assert all(c.weight > 0 for c in contributions)


@pytest.fixture(scope="module")
def char_pipelines() -> dict[str, Pipeline]:
    """Two heads with word, character and (for spam) metadata blocks, as the recipe builds."""
    rows = to_rows([CommentInput(t) for t, _ in TINY_TEXTS])
    labels = np.array([y for _, y in TINY_TEXTS])
    heads = {}
    for head, metadata in (("spam", True), ("abuse", False)):
        pipeline = build_pipeline(c=10.0, metadata=metadata, chars=(3, 5))
        heads[head] = pipeline.fit(rows, labels)
    return heads


CORPUS = [
    *(sample.content for sample in SAMPLES),
    "Best C4SINO bonus, click here",
    "",
    "a",
    "Ünïcödé wörds and 表情 😂 and   spaces\tand\nlines",
    "x " * 300,
]


def test_predict_many_equals_predict_proba(char_pipelines: dict[str, Pipeline]) -> None:
    rows = to_rows([CommentInput(t, author="Cheap Pills 24") for t in CORPUS * 30])
    got = predict_many(char_pipelines, rows)
    for head, pipeline in char_pipelines.items():
        np.testing.assert_array_equal(got[head], pipeline.predict_proba(rows)[:, 1])


def test_compiled_head_with_characters_equals_predict_proba(
    char_pipelines: dict[str, Pipeline],
) -> None:
    rows = to_rows([*SAMPLES, *(CommentInput(t) for t in CORPUS)])
    for pipeline in char_pipelines.values():
        compiled = CompiledHead(pipeline)
        expected = pipeline.predict_proba(rows)[:, 1]
        got = np.array([compiled.probability(row) for row in rows])
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_character_ngrams_are_explained_as_the_words_they_fall_in(
    char_pipelines: dict[str, Pipeline],
) -> None:
    text = "Buy cheap V1AGRA now!!! best casino"
    contributions = explain(char_pipelines["spam"], CommentInput(text), top=50)
    features = {c.feature for c in contributions}
    assert "viagra" in features
    # No bare character n-gram ("iag", " vi") is ever shown.
    words = {w for c in contributions for w in c.feature.split()}
    assert words <= set(to_rows([CommentInput(text)])[0][0].split()) | {
        "buy",
        "cheap",
        "viagra",
        "now",
        "best",
        "casino",
    } | {c.feature for c in contributions if c.feature.startswith(("links=", "len="))}
    (start, end), *_ = next(c for c in contributions if c.feature == "viagra").spans
    assert text[start:end] == "V1AGRA"
