"""The head pipelines: calibration folding, the compiled scorer and explanations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from moderation.ml.features import CommentInput, to_rows
from moderation.ml.model import CompiledHead, build_pipeline, explain, fold_platt_scaling
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
    a, b = fold_platt_scaling(pipeline, rows, labels)
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
