"""Functional checks' expectations and the quality gate's verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moderation.domain.policy import Status, Thresholds
from moderation.ml import gate
from moderation.ml.checks import load_cases, passes, run_cases
from tests.conftest import ROOT

pytestmark = pytest.mark.unit

THRESHOLDS = {"spam": Thresholds(0.3, 0.9), "abuse": Thresholds(0.3, 0.9)}


@pytest.mark.parametrize(
    ("expect", "status", "abuse", "ok"),
    [
        ("published", Status.APPROVED, 0.1, True),
        ("published", Status.PENDING, 0.1, False),
        ("not_published", Status.PENDING, 0.5, True),
        ("not_published", Status.APPROVED, 0.1, False),
        ("not_refused", Status.PENDING, 0.5, True),
        ("not_refused", Status.SPAM, 0.1, False),
        ("not_refused", Status.REJECTED, 0.95, False),
        ("not_abuse", Status.PENDING, 0.1, True),  # held for spam doubt only
        ("not_abuse", Status.PENDING, 0.5, False),  # held because of abuse
        ("not_abuse", Status.REJECTED, 0.95, False),
    ],
)
def test_expectations(expect: str, status: Status, abuse: float, ok: bool) -> None:
    assert passes(expect, status, abuse, abuse_allow=0.3) is ok


def test_the_committed_cases_are_well_formed() -> None:
    cases = load_cases(ROOT / "training" / "checks" / "functional_cases.jsonl")
    assert len(cases) >= 200
    assert len({c.content for c in cases}) == len(cases)
    assert len({c.category for c in cases}) >= 8


def test_run_cases_counts_per_category_and_lists_failures() -> None:
    cases = load_cases(ROOT / "training" / "checks" / "functional_cases.jsonl")[:3]
    scores = [
        {"spam": 0.01, "abuse": 0.01},
        {"spam": 0.95, "abuse": 0.01},
        {"spam": 0.5, "abuse": 0.5},
    ]
    result = run_cases(cases, scores, THRESHOLDS)
    total = sum(c["total"] for c in result["categories"].values())
    passed = sum(c["passed"] for c in result["categories"].values())
    assert total == 3
    assert len(result["failures"]) == 3 - passed
    assert result["overall"] == round(passed / 3, 4)


def test_an_unknown_expectation_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps({"category": "x", "content": "y", "expect": "maybe"}) + "\n")
    with pytest.raises(ValueError, match="unknown expectation"):
        load_cases(path)


SUMMARY = {
    "blind": {
        "civil": 200,
        "spam": 50,
        "abuse": 50,
        "auc_spam": 0.99,
        "auc_abuse": 0.98,
        "civil_refused": 0.0,
        "civil_held": 0.08,
        "spam_published": 0.02,
        "abuse_published": 0.04,
        "review_share": 0.12,
    },
    "checks_overall": 0.9,
    "checks": {"threat_no_swear": 0.85},
}


def test_floors_name_every_figure_that_misses() -> None:
    floors = {
        "blind": {"max": {"civil_held": 0.05, "review_share": 0.2}, "min": {"auc_abuse": 0.99}},
        "checks": {"overall": 0.95, "threat_no_swear": 0.8},
    }
    problems = gate.below_floors(SUMMARY, floors)
    assert len(problems) == 3
    assert any("civil_held" in p for p in problems)
    assert any("auc_abuse" in p for p in problems)
    assert any("overall" in p for p in problems)
    assert gate.below_floors(SUMMARY, {}) == []


def test_a_model_is_worse_only_beyond_one_comment_of_a_class() -> None:
    assert gate.worse_than(SUMMARY, SUMMARY) == []
    one_more_abuse = {**SUMMARY, "blind": {**SUMMARY["blind"], "abuse_published": 0.06}}
    assert gate.worse_than(one_more_abuse, SUMMARY) == []  # 1 of 50 abusive comments
    two_more = {**SUMMARY, "blind": {**SUMMARY["blind"], "abuse_published": 0.081}}
    assert gate.worse_than(two_more, SUMMARY) == [
        "blind abuse_published 0.081 is worse than the active model's 0.04"
    ]
    lower_auc = {**SUMMARY, "blind": {**SUMMARY["blind"], "auc_spam": 0.98}}
    assert gate.worse_than(lower_auc, SUMMARY)
    worse_checks = {**SUMMARY, "checks_overall": 0.85}
    assert gate.worse_than(worse_checks, SUMMARY)
