"""Model variants side by side: the training recipe with one thing changed at a time.

Run by hand (it trains each variant, ~1.5 minutes each on 2 cores); it prints one Markdown
table. Every variant goes through ``moderation.ml.training.train`` itself, into a temporary
folder. The figures are development figures: ROC-AUC on each public set's test split and on
the team's own test replies, the out-of-fold decisions on the own replies at the default
strictness, and the functional checks. The blind held-out replies are not shown: variants are
chosen without them.

    python benchmarks/model_variants.py [--only NAME]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from moderation.ml import training  # noqa: E402

RECIPE = "the shipped recipe"
# name -> (changes to the dataset weights, changes to the head parameters)
VARIANTS: dict[str, tuple[dict[str, float], dict[str, dict[str, Any]]]] = {
    RECIPE: ({}, {}),
    "words only (no character n-grams)": (
        {},
        {"spam": {"chars": None}, "abuse": {"chars": None}},
    ),
    "previous weights (own 6x), abuse C=1": (
        {"own": 6.0, "moderator": 6.0, "feedback": 6.0},
        {"abuse": {"c": 1.0}},
    ),
    "Stormfront and Davidson down-weighted (0.3x)": ({"stormfront": 0.3, "davidson": 0.3}, {}),
    "every public set at 0.3x": (
        {
            "davidson": 0.1,
            "stormfront": 0.1,
            "toxic_spans": 0.3,
            "civil_comments": 0.3,
            "paradetox": 0.3,
            "wikipedia": 0.3,
        },
        {},
    ),
    "abuse C=2 (less regularised)": ({}, {"abuse": {"c": 2.0}}),
    "abuse C=0.25 (more regularised)": ({}, {"abuse": {"c": 0.25}}),
}
PUBLIC = ("davidson", "toxic_spans", "stormfront", "paradetox")


def run(name: str) -> dict[str, Any]:
    """Train one variant; its development figures."""
    weights_change, params_change = VARIANTS[name]
    weights = {**training.DATASET_WEIGHTS, **weights_change}
    params = {
        head: {**training.HEAD_PARAMS[head], **params_change.get(head, {})}
        for head in training.HEAD_PARAMS
    }
    with tempfile.TemporaryDirectory() as tmp:
        result = training.train(
            ROOT / "training" / "data",
            Path(tmp),
            version="variant",
            with_peer=False,
            dataset_weights=weights,
            head_params=params,
        )
        report = json.loads((result.folder / "report.json").read_text(encoding="utf-8"))
    abuse = report["heads"]["abuse"]
    spam = report["heads"]["spam"]
    oof = report["validation"]["balanced"]
    return {
        "name": name,
        **{f"abuse {s}": abuse[s]["roc_auc"] for s in PUBLIC},
        "abuse own": abuse["own"]["roc_auc"],
        "spam own": spam["own"]["roc_auc"],
        "spam youtube": spam["youtube"]["roc_auc"],
        "civil held": oof["civil_held"],
        "spam published": oof["spam_published"],
        "abuse published": oof["abuse_published"],
        "review": oof["review_share"],
        "checks": report["checks"]["this model, balanced"]["overall"],
        "seconds": result.seconds,
    }


def main() -> None:
    """Train every variant and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="run only the variants whose name contains this")
    args = parser.parse_args()
    rows = [run(name) for name in VARIANTS if not args.only or args.only in name]
    columns = [k for k in rows[0] if k != "name"]
    print("| variant | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for row in rows:
        cells = [
            f"{row[c]:.1%}"
            if c in ("civil held", "spam published", "abuse published", "review", "checks")
            else f"{row[c]}"
            for c in columns
        ]
        print(f"| {row['name']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
