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

from moderation.domain.policy import HEADS, Thresholds


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


# ---------------------------------------------------------------------------------------
# Decisions on a realistic mix of comments (both heads together)
# ---------------------------------------------------------------------------------------

CLASSES = ("civil", "spam", "abuse")
# The traffic a news site's reply form sees, by share of comments.
REALISTIC_MIX = {"civil": 0.7, "spam": 0.2, "abuse": 0.1}


@dataclass(frozen=True)
class DecisionTargets:
    """What a setting of the decision band must achieve on validation data (shares of a class).

    ``civil_refused`` is kept at (nearly) zero by the reject thresholds; the allow thresholds
    then keep spam and abuse out of publication and, within that, hold as few comments as they
    can, preferably at most ``civil_held`` of the civil ones.
    """

    civil_refused: float
    civil_held: float
    spam_published: float
    abuse_published: float


# MODERATION_STRICTNESS: a site trades the review load for the risk of publishing bad comments.
# "balanced" aims at the product's bars on the validation replies (spam published ≤ 2%, abuse
# published ≤ 5%, civil held ≤ 10%, civil refused ~0); "lenient" holds fewer comments and
# publishes more risk; "strict" the reverse.
STRICTNESS = {
    "lenient": DecisionTargets(
        civil_refused=0.002, civil_held=0.06, spam_published=0.04, abuse_published=0.10
    ),
    "balanced": DecisionTargets(
        civil_refused=0.002, civil_held=0.10, spam_published=0.02, abuse_published=0.05
    ),
    "strict": DecisionTargets(
        civil_refused=0.001, civil_held=0.20, spam_published=0.01, abuse_published=0.02
    ),
}
DEFAULT_STRICTNESS = "balanced"


def decide_arrays(
    spam: np.ndarray[Any, Any],
    abuse: np.ndarray[Any, Any],
    thresholds: Mapping[str, Thresholds],
    addressed: np.ndarray[Any, Any] | None = None,
) -> np.ndarray[Any, Any]:
    """Per comment: 0 published, 1 held for review, 2 refused (the policy's score rule).

    ``addressed``: which comments speak to someone; abuse is refused only in those (all, when
    not given).
    """
    aimed = np.ones(len(abuse), dtype=bool) if addressed is None else np.asarray(addressed)
    refused = (spam >= thresholds["spam"].reject) | ((abuse >= thresholds["abuse"].reject) & aimed)
    published = (spam < thresholds["spam"].allow) & (abuse < thresholds["abuse"].allow)
    return np.where(refused, 2, np.where(published, 0, 1))


def decision_rates(
    classes: Sequence[str] | np.ndarray[Any, Any],
    outcomes: np.ndarray[Any, Any],
    weights: np.ndarray[Any, Any] | None = None,
    mix: Mapping[str, float] = REALISTIC_MIX,
) -> dict[str, float]:
    """Per class the share published, held and refused; and the review share at ``mix``."""
    cls = np.asarray(classes)
    w = np.ones(len(cls)) if weights is None else np.asarray(weights, dtype=float)
    rates: dict[str, float] = {}
    review = 0.0
    for name in CLASSES:
        mask = cls == name
        total = float(w[mask].sum())
        if not total:
            continue
        for code, outcome in enumerate(("published", "held", "refused")):
            rates[f"{name}_{outcome}"] = round(float(w[mask & (outcomes == code)].sum()) / total, 4)
        review += mix[name] * rates[f"{name}_held"]
    present = sum(mix[n] for n in CLASSES if f"{n}_held" in rates)
    if present:
        rates["review_share"] = round(review / present, 4)
    return rates


def _reject_at(scores: np.ndarray[Any, Any], weights: np.ndarray[Any, Any], share: float) -> float:
    """The lowest score that refuses at most ``share`` of these (good) comments' weight."""
    order = np.argsort(-scores, kind="stable")
    s, w = scores[order], weights[order] / weights.sum()
    last_of_run = np.r_[s[1:] != s[:-1], True]
    ok = np.flatnonzero(last_of_run & (np.cumsum(w) <= share))
    if not len(ok):  # even the highest good score must stay unrefused: just above it
        return float(min(1.0, np.nextafter(s[0], 2.0)))
    return float(s[ok[-1]])


def choose_decision_thresholds(
    spam: np.ndarray[Any, Any],
    abuse: np.ndarray[Any, Any],
    classes: Sequence[str] | np.ndarray[Any, Any],
    weights: np.ndarray[Any, Any],
    targets: DecisionTargets,
    *,
    civil_pool: Mapping[str, np.ndarray[Any, Any]] | None = None,
    addressed: np.ndarray[Any, Any] | None = None,
    grid: int = 120,
) -> dict[str, Thresholds]:
    """Both heads' thresholds for one strictness, chosen together on validation comments.

    Reject thresholds first: each head refuses at most ``targets.civil_refused`` of the civil
    comments of every source in ``civil_pool`` (``{"spam", "abuse", "source"}`` arrays: civil
    comments whose labels are trusted, and where each comes from, and optionally ``addressed``;
    the civil rows given, as one source, by default). Abuse is refused only in comments that
    are ``addressed`` to someone (all, when not given). Then the pair of allow thresholds,
    from a grid of score quantiles, that meets the spam and abuse publication targets and
    holds the fewest comments at the realistic mix; among pairs that fail a target, the one
    closest to meeting them.
    """
    cls = np.asarray(classes)
    w = np.asarray(weights, dtype=float)
    aimed = np.ones(len(abuse), dtype=bool) if addressed is None else np.asarray(addressed)
    if civil_pool is None:
        civil = cls == "civil"
        civil_pool = {
            "spam": spam[civil],
            "abuse": abuse[civil],
            "source": np.zeros(int(civil.sum())),
            "addressed": aimed[civil],
        }
    sources = np.asarray(civil_pool["source"])
    pool_aimed = np.asarray(civil_pool.get("addressed", np.ones(len(sources), dtype=bool)))
    # A civil comment that names no one is never refused for abuse: it cannot push the
    # abuse head's reject threshold up.
    refusable = {"spam": np.ones(len(sources), dtype=bool), "abuse": pool_aimed}
    rejects = {
        head: max(
            _reject_at(
                np.where(refusable[head], civil_pool[head], 0.0)[sources == source],
                np.ones(int((sources == source).sum())),
                targets.civil_refused,
            )
            for source in np.unique(sources)
        )
        for head in HEADS
    }
    candidates = {
        head: np.unique(
            np.r_[
                np.quantile(scores, np.linspace(0.0, 1.0, grid)),
                np.geomspace(1e-4, 1.0, 40),
            ].clip(0.0, rejects[head])
        )
        for head, scores in (("spam", spam), ("abuse", abuse))
    }
    limits = {
        "spam_published": targets.spam_published,
        "abuse_published": targets.abuse_published,
        "civil_held": targets.civil_held,
    }
    best: tuple[float, ...] | None = None
    chosen = {"spam": Thresholds(0.0, rejects["spam"]), "abuse": Thresholds(0.0, rejects["abuse"])}
    for spam_allow in candidates["spam"]:
        for abuse_allow in candidates["abuse"]:
            thresholds = {
                "spam": Thresholds(float(spam_allow), rejects["spam"]),
                "abuse": Thresholds(float(abuse_allow), rejects["abuse"]),
            }
            rates = decision_rates(cls, decide_arrays(spam, abuse, thresholds, aimed), w)
            # Lexicographic: publication targets first, then civil held, then review share.
            excess = [max(0.0, rates.get(k, 0.0) - v) / v for k, v in limits.items()]
            key = (excess[0] + excess[1], excess[2], rates.get("review_share", 0.0))
            if best is None or key < best:
                best, chosen = key, thresholds
    # Four decimals, rounded towards holding: never publish or refuse more than was chosen.
    return {
        head: Thresholds(
            allow=math.floor(t.allow * 1e4) / 1e4, reject=min(1.0, math.ceil(t.reject * 1e4) / 1e4)
        )
        for head, t in chosen.items()
    }
