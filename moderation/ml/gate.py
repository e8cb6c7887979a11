"""The quality gate: a new model is activated only if it meets the floors and is no worse.

Both compare the figures of :func:`moderation.ml.training.gate_summary`: the decisions on the
blind held-out replies (ROC-AUC per head, civil comments refused and held, spam and abuse
published, the share left for review) and the functional checks' pass rates. The floors are
committed in ``training/checks/floors.json``; ``make test`` holds the shipped model to them too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Lower is better for these rates, higher for the AUCs and pass rates.
LOWER_IS_BETTER = (
    "civil_refused",
    "civil_held",
    "spam_published",
    "abuse_published",
    "review_share",
)
HIGHER_IS_BETTER = ("auc_spam", "auc_abuse")
# How much worse than the model in use a new one may be before the gate stops it: about one
# comment of the class on the blind set for a rate, a rounding error for an AUC.
_CLASS_OF = {
    "civil_refused": "civil",
    "civil_held": "civil",
    "spam_published": "spam",
    "abuse_published": "abuse",
}
AUC_TOLERANCE = 0.005
REVIEW_TOLERANCE = 0.01
CHECKS_TOLERANCE = 0.02


def load_floors(path: Path) -> dict[str, Any]:
    """The committed floors (an empty dict when there is no file)."""
    if not path.is_file():
        return {}
    floors: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return floors


def below_floors(summary: Mapping[str, Any], floors: Mapping[str, Any]) -> list[str]:
    """Every figure of ``summary`` that misses its floor, in words."""
    problems = []
    blind = summary.get("blind", {})
    for key, limit in floors.get("blind", {}).get("max", {}).items():
        value = blind.get(key)
        if value is None or value > limit:
            problems.append(f"blind {key} {value} > floor {limit}")
    for key, limit in floors.get("blind", {}).get("min", {}).items():
        value = blind.get(key)
        if value is None or value < limit:
            problems.append(f"blind {key} {value} < floor {limit}")
    checks = summary.get("checks", {})
    for category, limit in floors.get("checks", {}).items():
        if category == "about":
            continue
        value = summary.get("checks_overall") if category == "overall" else checks.get(category)
        if value is None or value < limit:
            problems.append(f"functional checks {category} {value} < floor {limit}")
    return problems


def worse_than(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[str]:
    """Every figure on which ``new`` is worse than ``old`` beyond the tolerances, in words."""
    problems = []
    new_blind, old_blind = new.get("blind", {}), old.get("blind", {})
    for key in LOWER_IS_BETTER:
        a, b = new_blind.get(key), old_blind.get(key)
        if a is None or b is None:
            continue
        cls = _CLASS_OF.get(key)
        size = new_blind.get(cls, 0) if cls else 0
        tolerance = (1.0 / size + 1e-9) if size else REVIEW_TOLERANCE
        if a - b > tolerance:
            problems.append(f"blind {key} {a} is worse than the active model's {b}")
    for key in HIGHER_IS_BETTER:
        a, b = new_blind.get(key), old_blind.get(key)
        if a is not None and b is not None and b - a > AUC_TOLERANCE:
            problems.append(f"blind {key} {a} is worse than the active model's {b}")
    a, b = new.get("checks_overall"), old.get("checks_overall")
    if a is not None and b is not None and b - a > CHECKS_TOLERANCE:
        problems.append(f"functional checks {a} are worse than the active model's {b}")
    return problems
