"""Both scorers implement the Scorer protocol the services depend on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def test_the_configured_strictness_picks_the_models_thresholds(
    tmp_path: Path, tiny_pipeline: Any
) -> None:
    from moderation.domain.policy import Thresholds

    levels = {
        "lenient": {"spam": Thresholds(0.5, 0.95), "abuse": Thresholds(0.5, 0.95)},
        "balanced": {"spam": Thresholds(0.3, 0.9), "abuse": Thresholds(0.3, 0.9)},
        "strict": {"spam": Thresholds(0.1, 0.9), "abuse": Thresholds(0.05, 0.9)},
    }
    artifacts.save_model(
        tmp_path,
        version="levels",
        pipelines={"spam": tiny_pipeline, "abuse": tiny_pipeline},
        thresholds=levels["balanced"],
        strictness=levels,
        metadata={},
    )
    artifact = artifacts.load_model(tmp_path / "levels")
    for level, expected in levels.items():
        assert SklearnScorer(artifact, strictness=level).thresholds == expected
    assert SklearnScorer(artifact).thresholds == levels["balanced"]


def test_a_model_without_levels_uses_its_one_set_at_every_strictness(
    tiny_model_dir: Path,
) -> None:
    artifact = artifacts.load_model(tiny_model_dir / "tiny")
    assert SklearnScorer(artifact, strictness="strict").thresholds == artifact.thresholds
