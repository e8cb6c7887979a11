"""The decision rule: rules first, then the model, then the thresholds."""

from __future__ import annotations

import pytest

from moderation.domain.policy import Reason, Signals, Status, Thresholds, decide

pytestmark = pytest.mark.unit

T = {"spam": Thresholds(0.2, 0.9), "abuse": Thresholds(0.3, 0.95)}
CLEAN = {"spam": 0.01, "abuse": 0.01}


@pytest.mark.parametrize(
    ("scores", "signals", "status", "first_code"),
    [
        (CLEAN, Signals(), Status.APPROVED, "model_clear"),
        ({"spam": 0.95, "abuse": 0.99}, Signals(), Status.SPAM, "spam_score"),
        ({"spam": 0.1, "abuse": 0.96}, Signals(), Status.REJECTED, "abuse_score"),
        ({"spam": 0.5, "abuse": 0.01}, Signals(), Status.PENDING, "spam_uncertain"),
        ({"spam": 0.01, "abuse": 0.5}, Signals(), Status.PENDING, "abuse_uncertain"),
        # Bot traps: spam, unless the spam model finds the comment clean.
        (CLEAN, Signals(honeypot=True), Status.PENDING, "honeypot"),
        (CLEAN, Signals(form_check="too_fast"), Status.PENDING, "too_fast"),
        (CLEAN, Signals(form_check="invalid"), Status.PENDING, "bad_form_token"),
        (CLEAN, Signals(form_check="replayed"), Status.PENDING, "replayed_form_token"),
        (CLEAN, Signals(form_check="missing"), Status.PENDING, "no_form_token"),
        ({"spam": 0.5, "abuse": 0.01}, Signals(honeypot=True), Status.SPAM, "honeypot"),
        ({"spam": 0.5, "abuse": 0.01}, Signals(form_check="too_fast"), Status.SPAM, "too_fast"),
        # reads like a person (the spam model finds it clean), however rude: a human decides
        (
            {"spam": 0.01, "abuse": 0.5},
            Signals(form_check="missing"),
            Status.PENDING,
            "no_form_token",
        ),
        (CLEAN, Signals(form_check="expired"), Status.PENDING, "expired_form_token"),
        (None, Signals(honeypot=True), Status.SPAM, "honeypot"),
        (CLEAN, Signals(form_check="ok"), Status.APPROVED, "model_clear"),
        (CLEAN, Signals(blocked=(Reason("blocked_ip", "1.2.3.4"),)), Status.SPAM, "blocked_ip"),
        (CLEAN, Signals(banned_words=("scum",)), Status.REJECTED, "banned_word"),
        (CLEAN, Signals(suspect_words=("lawsuit",)), Status.PENDING, "suspect_word"),
        (CLEAN, Signals(links=3, max_links=2), Status.PENDING, "too_many_links"),
        (CLEAN, Signals(links=2, max_links=2), Status.APPROVED, "model_clear"),
        (None, Signals(), Status.PENDING, "model_unavailable"),
        (
            {"spam": 0.5, "abuse": 0.01},
            Signals(trusted_author=True),
            Status.APPROVED,
            "trusted_author",
        ),
        # a trusted author is not trusted past the reject threshold, the rules or abuse doubt
        (
            {"spam": 0.01, "abuse": 0.5},
            Signals(trusted_author=True),
            Status.PENDING,
            "abuse_uncertain",
        ),
        ({"spam": 0.95, "abuse": 0.01}, Signals(trusted_author=True), Status.SPAM, "spam_score"),
        (CLEAN, Signals(trusted_author=True, links=5), Status.PENDING, "too_many_links"),
    ],
)
def test_decide(
    scores: dict[str, float] | None, signals: Signals, status: Status, first_code: str
) -> None:
    decision = decide(scores, T, signals)
    assert decision.status is status
    assert decision.reasons[0].code == first_code


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="allow <= reject"):
        Thresholds(0.9, 0.1)


def test_a_trapped_comment_held_for_review_keeps_the_models_doubts() -> None:
    decision = decide({"spam": 0.01, "abuse": 0.5}, T, Signals(form_check="too_fast"))
    assert decision.status is Status.PENDING
    assert [r.code for r in decision.reasons] == ["too_fast", "abuse_uncertain"]
    clean = decide(CLEAN, T, Signals(honeypot=True))
    assert [r.code for r in clean.reasons] == ["honeypot"]
