"""Threshold choice on a realistic mix, decision rates and per-head metrics."""

from __future__ import annotations

import numpy as np
import pytest

from moderation.domain.policy import Thresholds
from moderation.ml.evaluation import (
    STRICTNESS,
    DecisionTargets,
    choose_decision_thresholds,
    decide_arrays,
    decision_rates,
    head_metrics,
)

pytestmark = pytest.mark.unit


def _replies(seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Synthetic validation replies: 700 civil, 200 spam, 100 abuse, mostly separable."""
    rng = np.random.default_rng(seed)
    classes = ["civil"] * 700 + ["spam"] * 200 + ["abuse"] * 100
    spam = np.r_[rng.beta(1, 20, 700), rng.beta(8, 1.5, 200), rng.beta(1, 20, 100)]
    abuse = np.r_[rng.beta(1, 12, 700), rng.beta(1, 20, 200), rng.beta(6, 1.5, 100)]
    return spam, abuse, classes


def test_chosen_thresholds_meet_the_targets_on_the_data_they_were_chosen_on() -> None:
    spam, abuse, classes = _replies()
    targets = STRICTNESS["balanced"]
    thresholds = choose_decision_thresholds(spam, abuse, classes, np.ones(1000), targets)
    rates = decision_rates(classes, decide_arrays(spam, abuse, thresholds))
    assert rates["civil_refused"] <= targets.civil_refused
    assert rates["spam_published"] <= targets.spam_published
    assert rates["abuse_published"] <= targets.abuse_published
    assert rates["civil_held"] <= targets.civil_held
    assert set(thresholds) == {"spam", "abuse"}
    for t in thresholds.values():
        assert 0.0 <= t.allow <= t.reject <= 1.0


def test_stricter_levels_publish_less_and_hold_more() -> None:
    rng = np.random.default_rng(1)
    classes = ["civil"] * 700 + ["spam"] * 200 + ["abuse"] * 100
    # Overlapping classes, so that every level has something to trade.
    spam = np.r_[rng.beta(1, 6, 700), rng.beta(4, 2, 200), rng.beta(1, 6, 100)]
    abuse = np.r_[rng.beta(1, 5, 700), rng.beta(1, 6, 200), rng.beta(3, 2, 100)]
    rates = {}
    for level, targets in STRICTNESS.items():
        thresholds = choose_decision_thresholds(spam, abuse, classes, np.ones(1000), targets)
        rates[level] = decision_rates(classes, decide_arrays(spam, abuse, thresholds))
    assert rates["strict"]["review_share"] > rates["balanced"]["review_share"]
    assert rates["balanced"]["review_share"] > rates["lenient"]["review_share"]
    for published in ("spam_published", "abuse_published"):
        assert rates["strict"][published] < rates["balanced"][published]
        assert rates["balanced"][published] < rates["lenient"][published]


def test_no_civil_comment_is_refused_when_the_target_is_zero() -> None:
    spam, abuse, classes = _replies(2)
    abuse[5] = 0.999  # a civil reply the model finds very abusive
    targets = DecisionTargets(
        civil_refused=0.0, civil_held=0.1, spam_published=0.02, abuse_published=0.05
    )
    thresholds = choose_decision_thresholds(spam, abuse, classes, np.ones(1000), targets)
    assert thresholds["abuse"].reject > 0.999
    rates = decision_rates(classes, decide_arrays(spam, abuse, thresholds))
    assert rates["civil_refused"] == 0.0


def test_inseparable_replies_are_held_not_published() -> None:
    classes = ["civil"] * 50 + ["spam"] * 50
    same = np.full(100, 0.5)
    thresholds = choose_decision_thresholds(
        same, np.zeros(100), classes, np.ones(100), STRICTNESS["balanced"]
    )
    rates = decision_rates(classes, decide_arrays(same, np.zeros(100), thresholds))
    assert rates["spam_published"] == 0.0
    assert rates["spam_refused"] == 0.0  # refusing would refuse the civil ones too


def test_decision_rates_weigh_classes_at_the_mix() -> None:
    classes = ["civil", "civil", "spam", "abuse"]
    outcomes = np.array([0, 1, 2, 1])
    rates = decision_rates(classes, outcomes)
    assert rates["civil_held"] == 0.5
    assert rates["spam_refused"] == 1.0
    assert rates["abuse_held"] == 1.0
    assert rates["review_share"] == pytest.approx(0.7 * 0.5 + 0.1 * 1.0)


def test_head_metrics_counts_decisions() -> None:
    m = head_metrics([0, 0, 1, 1], [0.1, 0.5, 0.5, 0.95], Thresholds(0.3, 0.9))
    assert m.confusion == [[1, 1, 0], [0, 1, 1]]
    assert m.precision_at_reject == 1.0
    assert m.recall_at_reject == 0.5
    assert m.review_share == 0.5
    assert m.roc_auc is not None
    single = head_metrics([1, 1], [0.2, 0.99], Thresholds(0.3, 0.9))
    assert single.roc_auc is None
