"""Both scorers implement the Scorer protocol the services depend on."""

from __future__ import annotations

from pathlib import Path

import pytest

from moderation.ml import artifacts
from moderation.ml.features import CommentInput
from moderation.services.scoring import (
    DEFAULT_FIXED_THRESHOLDS,
    FixedScorer,
    Scorer,
    SklearnScorer,
)

pytestmark = pytest.mark.unit


def test_both_scorers_satisfy_the_protocol(tiny_model_dir: Path) -> None:
    real = SklearnScorer(artifacts.load_model(tiny_model_dir / "tiny"))
    fixed = FixedScorer({"spam": 0.2, "abuse": 0.3}, DEFAULT_FIXED_THRESHOLDS)
    for scorer in (real, fixed):
        assert isinstance(scorer, Scorer)
        scores = scorer.score_many([CommentInput("buy cheap viagra"), CommentInput("thanks")])
        assert len(scores) == 2
        assert all(0.0 <= s[h] <= 1.0 for s in scores for h in ("spam", "abuse"))
        assert set(scorer.explain(CommentInput("x"))) == {"spam", "abuse"}
    assert real.version == "tiny"
    assert fixed.score_many([CommentInput("a")]) == [{"spam": 0.2, "abuse": 0.3}]
    assert real.score_many([]) == []
