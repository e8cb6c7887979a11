"""The vocabulary (statuses, thresholds, reasons, the verdict) and the rule that turns a
comment's scores and signals into a verdict. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

HEADS = ("spam", "abuse")  # the model's two heads, in this order


class Status(StrEnum):
    """Where a comment stands."""

    APPROVED = "approved"
    PENDING = "pending"
    SPAM = "spam"
    REJECTED = "rejected"


class Role(StrEnum):
    """What a moderator may do."""

    MODERATOR = "moderator"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Per-head cut-offs: below ``allow`` publish, at or above ``reject`` refuse, else review."""

    allow: float
    reject: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.allow <= self.reject <= 1.0:
            raise ValueError(f"need 0 <= allow <= reject <= 1, got {self.allow}, {self.reject}")

    def as_dict(self) -> dict[str, float]:
        """JSON form."""
        return {"allow": self.allow, "reject": self.reject}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Thresholds:
        """Read the JSON form."""
        return cls(allow=float(data["allow"]), reject=float(data["reject"]))


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a decision was made: a stable code and a human detail."""

    code: str
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        """JSON form."""
        return {"code": self.code, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Verdict:
    """A status with its reasons."""

    status: Status
    reasons: tuple[Reason, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Signals:
    """What the rules found about a comment before the model looked at it."""

    honeypot: bool = False
    # The form token: None (not checked: a site backend), "ok", "too_fast", "invalid",
    # "replayed" (used before), "expired" or "missing".
    form_check: str | None = None
    blocked: tuple[Reason, ...] = ()
    banned_words: tuple[str, ...] = ()
    suspect_words: tuple[str, ...] = ()
    links: int = 0
    max_links: int = 2
    trusted_author: bool = False
    # The language of a comment the models were not trained for (``None``: a supported one).
    unsupported_language: str | None = None
    # Whether the comment speaks to someone (you, your, @name): only then is abuse refused.
    addressed: bool = True


def decide(
    scores: Mapping[str, float] | None,
    thresholds: Mapping[str, Thresholds],
    signals: Signals = Signals(),
) -> Verdict:
    """Rules first, then the model, then the thresholds; every outcome with its reasons.

    Block lists make spam; a bot trap (honeypot, form token too fast, forged, reused,
    expired or missing) makes spam unless the spam model finds the comment clean (below its
    ``allow`` threshold), which then waits for a human; banned words refuse; a comment in a language
    the models were not trained for waits for a human; otherwise the model's
    decision stands, except that suspect words or too many links hold an approved comment
    for review, a trusted author's comment that the model was only unsure about is approved,
    and without scores (no model, or it failed) everything waits for a human.
    """
    if signals.blocked:
        return Verdict(Status.SPAM, signals.blocked)
    trap = bot_trap(signals)
    if trap is not None:
        # A person who types fast, autofills the form or whose form lost its token still
        # writes like a person: a comment the spam model finds clean waits for a human (with
        # the model's own doubts beside the trap) instead of vanishing as spam.
        if scores is None or scores["spam"] >= thresholds["spam"].allow:
            return Verdict(Status.SPAM, (trap,))
        model = decide_scores(scores, thresholds, addressed=signals.addressed)
        doubts = tuple(r for r in model.reasons if r.code != "model_clear")
        return Verdict(Status.PENDING, (trap, *doubts))
    if signals.banned_words:
        return Verdict(Status.REJECTED, (Reason("banned_word", ", ".join(signals.banned_words)),))
    if signals.unsupported_language is not None:
        return Verdict(
            Status.PENDING,
            (Reason("unsupported_language", f"written in {signals.unsupported_language}"),),
        )
    if scores is None:
        return Verdict(Status.PENDING, (Reason("model_unavailable", "no model scores"),))
    model = decide_scores(scores, thresholds, addressed=signals.addressed)
    if model.status in (Status.SPAM, Status.REJECTED):
        return model
    holds = []
    if signals.suspect_words:
        holds.append(Reason("suspect_word", ", ".join(signals.suspect_words)))
    if signals.links > signals.max_links:
        holds.append(Reason("too_many_links", f"{signals.links} > {signals.max_links}"))
    if holds:
        return Verdict(Status.PENDING, (*holds, *model.reasons))
    # Trust covers the spam head's doubt only: borderline abuse is for a human whoever wrote it.
    if (
        model.status is Status.PENDING
        and signals.trusted_author
        and all(r.code == "spam_uncertain" for r in model.reasons)
    ):
        return Verdict(
            Status.APPROVED, (Reason("trusted_author", "approved history"), *model.reasons)
        )
    if model.status is Status.PENDING:
        return Verdict(
            Status.PENDING, (*model.reasons, Reason("new_author", "no approved history"))
        )
    return model


_FORM_CHECKS = {
    "too_fast": Reason("too_fast", "the form was sent too quickly"),
    "invalid": Reason("bad_form_token", "the form token was forged"),
    "replayed": Reason("replayed_form_token", "the form token was used before"),
    "missing": Reason("no_form_token", "the form came without its token"),
    "expired": Reason("expired_form_token", "the form's token was too old"),
}


def bot_trap(signals: Signals) -> Reason | None:
    """The bot trap a comment fell into, if any: the honeypot, or its form token."""
    if signals.honeypot:
        return Reason("honeypot", "the hidden field was filled in")
    return _FORM_CHECKS.get(signals.form_check or "")


def decide_scores(
    scores: Mapping[str, float], thresholds: Mapping[str, Thresholds], *, addressed: bool = True
) -> Verdict:
    """Route a comment by its two model scores.

    Spam at or above its reject threshold is ``spam``; abuse at or above its reject threshold
    is ``rejected`` when the comment speaks to someone (``addressed``) and goes to review when
    it names no one (swearing at the weather is not an attack); both heads under ``allow`` is
    ``approved``; anything else goes to review.
    """
    spam, abuse = scores["spam"], scores["abuse"]
    ts, ta = thresholds["spam"], thresholds["abuse"]
    if spam >= ts.reject:
        return Verdict(Status.SPAM, (Reason("spam_score", f"{spam:.3f} >= {ts.reject:.3f}"),))
    if abuse >= ta.reject and addressed:
        return Verdict(Status.REJECTED, (Reason("abuse_score", f"{abuse:.3f} >= {ta.reject:.3f}"),))
    reasons = []
    if spam >= ts.allow:
        reasons.append(Reason("spam_uncertain", f"{ts.allow:.3f} <= {spam:.3f} < {ts.reject:.3f}"))
    if abuse >= ta.reject:
        reasons.append(
            Reason("abuse_unaddressed", f"{abuse:.3f} >= {ta.reject:.3f}, but aimed at no one")
        )
    elif abuse >= ta.allow:
        reasons.append(
            Reason("abuse_uncertain", f"{ta.allow:.3f} <= {abuse:.3f} < {ta.reject:.3f}")
        )
    if reasons:
        return Verdict(Status.PENDING, tuple(reasons))
    return Verdict(Status.APPROVED, (Reason("model_clear", f"spam {spam:.3f}, abuse {abuse:.3f}"),))
