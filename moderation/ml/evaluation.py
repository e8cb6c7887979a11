"""Metrics, threshold selection, the evaluation report and its plots."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    precision_recall_curve,
    roc_auc_score,
)

from moderation.services.policy import Thresholds

# Error targets the thresholds are chosen to meet on validation data.
REJECT_PRECISION = 0.99  # of auto-rejected comments, at least 99% truly bad
ALLOW_MAX_BAD = 0.02  # of auto-published comments, at most 2% bad
MIN_REJECT_SUPPORT = 10  # a reject threshold must be backed by this many bad comments


def choose_thresholds(
    labels: np.ndarray[Any, Any],
    probs: np.ndarray[Any, Any],
    weights: np.ndarray[Any, Any] | None = None,
    *,
    reject_precision: float = REJECT_PRECISION,
    allow_max_bad: float = ALLOW_MAX_BAD,
) -> Thresholds:
    """Pick ``allow`` and ``reject`` from scores on validation data.

    ``reject`` is the lowest score at which the (weighted) precision of everything at or above
    it is at least ``reject_precision``; ``allow`` is the highest score under which at most
    ``allow_max_bad`` of everything is bad.
    """
    y = np.asarray(labels, dtype=float)
    p = np.asarray(probs, dtype=float)
    w = np.ones_like(p) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(-p, kind="stable")
    p_desc, y_desc, w_desc = p[order], y[order], w[order]
    bad_above = np.cumsum(w_desc * y_desc)
    all_above = np.cumsum(w_desc)
    count_bad_above = np.cumsum(y_desc)
    # Only cut between distinct scores.
    last_of_run = np.r_[p_desc[1:] != p_desc[:-1], True]
    ok = (
        last_of_run
        & (bad_above >= reject_precision * all_above)
        & (count_bad_above >= MIN_REJECT_SUPPORT)
    )
    reject = float(p_desc[np.flatnonzero(ok)[-1]]) if ok.any() else 1.0

    p_asc, y_asc, w_asc = p_desc[::-1], y_desc[::-1], w_desc[::-1]
    bad_below = np.cumsum(w_asc * y_asc)
    all_below = np.cumsum(w_asc)
    # allow = the next distinct score above a prefix whose bad share is within target.
    next_higher = np.r_[p_asc[1:], 1.0]
    distinct = next_higher != p_asc
    fine = distinct & (bad_below <= allow_max_bad * all_below)
    allow = float(next_higher[np.flatnonzero(fine)[-1]]) if fine.any() else 0.0
    allow = min(allow, reject)
    return Thresholds(allow=round(allow, 4), reject=round(reject, 4))


@dataclass(frozen=True)
class HeadMetrics:
    """Metrics of one head on one labelled set."""

    n: int
    positives: int
    roc_auc: float | None
    pr_auc: float | None
    brier: float
    precision_at_reject: float | None
    recall_at_reject: float | None
    bad_share_allowed: float | None
    recall_not_allowed: float | None
    review_share: float
    # rows: truth (good, bad); columns: decision (allow, review, reject)
    confusion: list[list[int]]

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _safe(fn: Callable[[], float]) -> float | None:
    try:
        value = float(fn())
    except ValueError:
        return None
    return None if math.isnan(value) else round(value, 4)


def head_metrics(
    labels: Sequence[int], probs: Sequence[float], thresholds: Thresholds
) -> HeadMetrics:
    """ROC-AUC, PR-AUC, Brier, precision/recall at the thresholds and the review share."""
    y = np.asarray(labels, dtype=int)
    p = np.asarray(probs, dtype=float)
    rejected = p >= thresholds.reject
    allowed = p < thresholds.allow
    review = ~rejected & ~allowed
    both = len(set(y.tolist())) == 2

    def ratio(num: float, den: float) -> float | None:
        return round(num / den, 4) if den else None

    confusion = [
        [int(((y == truth) & d).sum()) for d in (allowed, review, rejected)] for truth in (0, 1)
    ]
    return HeadMetrics(
        n=len(y),
        positives=int(y.sum()),
        roc_auc=_safe(lambda: roc_auc_score(y, p)) if both else None,
        pr_auc=_safe(lambda: average_precision_score(y, p)) if both else None,
        brier=round(float(brier_score_loss(y, p, labels=[0, 1])), 4),
        precision_at_reject=ratio(float((y & rejected).sum()), float(rejected.sum())),
        recall_at_reject=ratio(float((y & rejected).sum()), float(y.sum())),
        bad_share_allowed=ratio(float((y & allowed).sum()), float(allowed.sum())),
        recall_not_allowed=ratio(float((y & ~allowed).sum()), float(y.sum())),
        review_share=round(float(review.mean()), 4) if len(y) else 0.0,
        confusion=confusion,
    )


def plot_pr_curves(
    path: Path, head: str, curves: Mapping[str, tuple[Sequence[int], Sequence[float]]]
) -> None:
    """Precision-recall curves, one line per labelled set, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    for name, (labels, probs) in curves.items():
        if len(set(labels)) < 2:
            continue
        precision, recall, _ = precision_recall_curve(labels, probs)
        ax.plot(recall, precision, label=name)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(f"{head}: precision-recall on held-out data")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    # Fixed metadata so the same curves give the same bytes.
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def metrics_table(rows: Mapping[str, Mapping[str, Any]]) -> str:
    """A Markdown table of per-set metrics (``rows``: name -> HeadMetrics.as_dict())."""
    header = (
        "| set | n | bad | ROC-AUC | PR-AUC | Brier | precision@reject | recall@reject "
        "| bad share of allowed | review share |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = [
        f"| {name} | {m['n']} | {m['positives']} | {_fmt(m['roc_auc'])} | {_fmt(m['pr_auc'])} "
        f"| {_fmt(m['brier'])} | {_fmt(m['precision_at_reject'])} | {_fmt(m['recall_at_reject'])} "
        f"| {_fmt(m['bad_share_allowed'])} | {_fmt(m['review_share'])} |"
        for name, m in rows.items()
    ]
    return header + "\n".join(lines) + "\n"


def confusion_table(rows: Mapping[str, Mapping[str, Any]]) -> str:
    """Confusion matrices (truth x decision) per set, as one Markdown table."""
    header = (
        "| set | good→allow | good→review | good→reject | bad→allow | bad→review | bad→reject |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = []
    for name, m in rows.items():
        good, bad = m["confusion"]
        lines.append(f"| {name} | " + " | ".join(str(v) for v in [*good, *bad]) + " |")
    return header + "\n".join(lines) + "\n"


def peer_table(rows: Mapping[str, Mapping[str, Any]]) -> str:
    """Ours next to alt-profanity-check, per set (abuse head)."""
    header = (
        "| set | n | bad | ours ROC-AUC | peer ROC-AUC | ours PR-AUC | peer PR-AUC "
        "| ours precision@reject / recall@reject | peer precision / recall @0.5 "
        "| ours false rejects of good | peer flags of good @0.5 |\n"
        "|---|---:|---:|---:|---:|---:|---:|---|---|---:|---:|\n"
    )
    lines = []
    for name, r in rows.items():
        ours, peer = r["ours"], r["peer"]
        lines.append(
            f"| {name} | {ours['n']} | {ours['positives']} | {_fmt(ours['roc_auc'])} "
            f"| {_fmt(peer['roc_auc'])} | {_fmt(ours['pr_auc'])} | {_fmt(peer['pr_auc'])} "
            f"| {_fmt(ours['precision_at_reject'])} / {_fmt(ours['recall_at_reject'])} "
            f"| {_fmt(peer['precision_at_reject'])} / {_fmt(peer['recall_at_reject'])} "
            f"| {ours['confusion'][0][2]} | {peer['confusion'][0][2]} |"
        )
    return header + "\n".join(lines) + "\n"
