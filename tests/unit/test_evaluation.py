"""Threshold choice and metrics."""

from __future__ import annotations

import numpy as np
import pytest

from moderation.ml.evaluation import choose_thresholds, head_metrics
from moderation.services.policy import Thresholds

pytestmark = pytest.mark.unit


def test_thresholds_meet_their_targets_on_the_data_they_were_chosen_on() -> None:
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(900, dtype=int), np.ones(100, dtype=int)]
    probs = np.clip(np.r_[rng.beta(2, 8, 900), rng.beta(8, 2, 100)], 0, 1)
    t = choose_thresholds(labels, probs)
    rejected = probs >= t.reject
    allowed = probs < t.allow
    assert labels[rejected].mean() >= 0.99
    assert labels[allowed].mean() <= 0.02
    assert 0 < t.allow <= t.reject < 1


def test_inseparable_data_rejects_nothing() -> None:
    labels = np.array([0, 1] * 50)
    probs = np.full(100, 0.5)
    t = choose_thresholds(labels, probs)
    assert t.reject == 1.0
    assert t.allow == 0.0


def test_weights_change_the_effective_prevalence() -> None:
    labels = np.array([0] * 50 + [1] * 50)
    probs = np.r_[np.linspace(0.0, 0.6, 50), np.linspace(0.4, 1.0, 50)]
    plain = choose_thresholds(labels, probs)
    rare_bad = choose_thresholds(labels, probs, np.r_[np.full(50, 9.0), np.ones(50)])
    assert rare_bad.allow >= plain.allow


def test_head_metrics_counts_decisions() -> None:
    m = head_metrics([0, 0, 1, 1], [0.1, 0.5, 0.5, 0.95], Thresholds(0.3, 0.9))
    assert m.confusion == [[1, 1, 0], [0, 1, 1]]
    assert m.precision_at_reject == 1.0
    assert m.recall_at_reject == 0.5
    assert m.review_share == 0.5
    assert m.roc_auc is not None
    single = head_metrics([1, 1], [0.2, 0.99], Thresholds(0.3, 0.9))
    assert single.roc_auc is None
