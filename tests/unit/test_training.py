"""The training recipe's pieces: folds, weights and the fast out-of-fold fits."""

from __future__ import annotations

import numpy as np
import pytest

from moderation.ml import training
from moderation.ml.datasets import Example
from moderation.ml.features import to_rows
from tests.conftest import TINY_TEXTS

pytestmark = pytest.mark.unit

PARAMS = {
    "spam": {"c": 4.0, "metadata": True, "chars": (3, 5)},
    "abuse": {"c": 2.0, "metadata": False, "chars": (3, 5)},
}
WEIGHTS = {"own": 5.0}


def _examples() -> tuple[list[Example], list[Example]]:
    others = [
        Example(t, spam=y, abuse=0, dataset="public", group=str(i))
        for i, (t, y) in enumerate(TINY_TEXTS)
    ]
    rude = ["you are an idiot", "shut up you moron", "what a pathetic troll", "get lost loser"]
    replies = [
        Example(f"{t} indeed", spam=y, abuse=0, dataset="own", group=f"r{i}")
        for i, (t, y) in enumerate(TINY_TEXTS)
    ] + [Example(t, spam=0, abuse=1, dataset="own", group=f"a{i}") for i, t in enumerate(rude)]
    return others, replies


def test_out_of_fold_logits_are_those_of_pipelines_fitted_without_the_fold() -> None:
    others, replies = _examples()
    fast = training.out_of_fold_logits(others, replies, dataset_weights=WEIGHTS, head_params=PARAMS)
    folds = np.array([training.fold_of(e) for e in replies])
    assert len(set(folds.tolist())) > 1
    for fold in set(folds.tolist()):
        kept = [e for e, f in zip(replies, folds, strict=True) if f != fold]
        heads = training.fit_heads([*others, *kept], dataset_weights=WEIGHTS, head_params=PARAMS)
        held = to_rows([e.as_input() for e, f in zip(replies, folds, strict=True) if f == fold])
        for head, pipeline in heads.items():
            np.testing.assert_allclose(
                fast[head][folds == fold], pipeline.decision_function(held), atol=1e-9
            )


def test_a_group_stays_in_one_fold() -> None:
    a = Example("x", spam=0, abuse=0, dataset="own", group="article-1")
    b = Example("y", spam=1, abuse=0, dataset="own", group="article-1")
    assert training.fold_of(a) == training.fold_of(b)


def test_each_set_weighs_its_weight_split_evenly_between_its_classes() -> None:
    rows = [
        Example("a", spam=0, abuse=1, dataset="tweets", group="1"),
        Example("b", spam=0, abuse=1, dataset="tweets", group="2"),
        Example("c", spam=0, abuse=1, dataset="tweets", group="3"),
        Example("d", spam=0, abuse=0, dataset="tweets", group="4"),
        Example("e", spam=0, abuse=0, dataset="own", group="5"),
    ]
    weights = training.training_weights(rows, "abuse", {"own": 7.0})
    assert weights[:3].sum() == pytest.approx(weights[3])  # 3 abusive weigh as the 1 civil
    assert weights[:4].sum() == pytest.approx(4.0)
    assert weights[4] == pytest.approx(7.0)


def test_source_weights_make_each_source_count_the_same_within_a_class() -> None:
    rows = [Example(str(i), 0, 0, "big", str(i)) for i in range(9)] + [
        Example("x", 0, 0, "small", "x")
    ]
    weights = training.source_weights(rows, ["civil"] * 10)
    assert weights[:9].sum() == pytest.approx(weights[9])


def test_own_files_count_by_their_share_not_their_size() -> None:
    rows = [Example(str(i), 0, 0, "own", str(i), source="everyday") for i in range(30)] + [
        Example(f"h{i}", 0, 0, "own", f"h{i}", source="hard") for i in range(10)
    ]
    weights = training.source_weights(rows, ["civil"] * 40, {"everyday": 0.9, "hard": 0.1})
    assert weights[:30].sum() == pytest.approx(0.9)
    assert weights[30:].sum() == pytest.approx(0.1)
