"""Functional checks: hand-written comments of named kinds, each with what its decision must be.

Like HateCheck's functional tests: identity groups named neutrally must not read as abuse,
counter-speech and negated insults must not be refused, threats and dehumanising comparisons
without a swear word must not be published, and so on. Each case goes through the same rules
and thresholds as a comment posted without author, email or website.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moderation.domain.policy import Status, Thresholds, decide
from moderation.domain.rules import IntakeSettings
from moderation.ml.features import CommentInput
from moderation.ml.signals import content_signals

EXPECTATIONS = frozenset({"published", "not_published", "not_refused", "not_abuse"})


@dataclass(frozen=True, slots=True)
class Case:
    """One functional case."""

    category: str
    content: str
    expect: str


def load_cases(path: Path) -> list[Case]:
    """Read the JSONL cases file (``category``, ``content``, ``expect``)."""
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("expect") not in EXPECTATIONS:
            raise ValueError(f"{path}:{number}: unknown expectation {row.get('expect')!r}")
        cases.append(Case(str(row["category"]), str(row["content"]), str(row["expect"])))
    return cases


def passes(expect: str, status: Status, abuse: float, abuse_allow: float) -> bool:
    """Whether a decision meets a case's expectation."""
    if expect == "published":
        return status is Status.APPROVED
    if expect == "not_published":
        return status is not Status.APPROVED
    if expect == "not_refused":
        return status not in (Status.SPAM, Status.REJECTED)
    # not_abuse: neither refused nor held because of the abuse score.
    return status is not Status.REJECTED and abuse < abuse_allow


def run_cases(
    cases: Sequence[Case],
    scores: Sequence[Mapping[str, float]],
    thresholds: Mapping[str, Thresholds],
) -> dict[str, Any]:
    """Pass rates per category, overall, and the failing cases (``scores`` in case order)."""
    categories: dict[str, dict[str, Any]] = {}
    failures = []
    settings = IntakeSettings()
    for case, score in zip(cases, scores, strict=True):
        signals = content_signals(case.content, settings)
        decision = decide(score, thresholds, signals)
        ok = passes(case.expect, decision.status, score["abuse"], thresholds["abuse"].allow)
        entry = categories.setdefault(case.category, {"passed": 0, "total": 0})
        entry["total"] += 1
        entry["passed"] += int(ok)
        if not ok:
            failures.append(
                {
                    "category": case.category,
                    "content": case.content,
                    "expect": case.expect,
                    "decision": decision.status.value,
                    "spam": round(score["spam"], 4),
                    "abuse": round(score["abuse"], 4),
                }
            )
    for entry in categories.values():
        entry["rate"] = round(entry["passed"] / entry["total"], 4)
    passed = sum(e["passed"] for e in categories.values())
    return {
        "categories": dict(sorted(categories.items())),
        "overall": round(passed / len(cases), 4) if cases else None,
        "failures": failures,
    }


def score_cases(cases: Sequence[Case], score_many: Any) -> list[dict[str, float]]:
    """Scores for each case's text, posted without author, email or website."""
    result: list[dict[str, float]] = score_many([CommentInput(c.content) for c in cases])
    return result
