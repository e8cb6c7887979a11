"""The shipped model holds the committed quality floors.

The same figures the quality gate of ``moderation train --activate`` compares: decisions on the
blind held-out article replies (ROC-AUC per head, civil comments refused and held, spam and
abuse published, the share left for review) and the functional checks' pass rates, each held
to its floor in ``training/checks/floors.json``. A retrain that loses recall fails here.
"""

from __future__ import annotations

import pytest

from moderation.ml import artifacts, gate
from moderation.ml.checks import load_cases
from moderation.ml.datasets import load_holdout
from moderation.ml.training import gate_summary
from tests.conftest import DATA_DIR, ROOT

pytestmark = pytest.mark.functional

CHECKS = ROOT / "training" / "checks"


def test_the_shipped_model_meets_the_committed_floors(
    shipped_model: artifacts.ModelArtifact,
) -> None:
    floors = gate.load_floors(CHECKS / "floors.json")
    assert floors["blind"]["max"]
    assert floors["blind"]["min"]
    assert floors["checks"]
    summary = gate_summary(
        shipped_model.pipelines,
        shipped_model.thresholds,
        load_holdout(DATA_DIR),
        load_cases(CHECKS / "functional_cases.jsonl"),
    )
    assert gate.below_floors(summary, floors) == []


def test_stricter_levels_hold_more_and_publish_less(
    shipped_model: artifacts.ModelArtifact,
) -> None:
    levels = shipped_model.strictness
    assert set(levels) == {"lenient", "balanced", "strict"}
    for head in artifacts.HEADS:
        assert levels["strict"][head].allow <= levels["balanced"][head].allow
        assert levels["balanced"][head].allow <= levels["lenient"][head].allow
