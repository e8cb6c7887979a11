"""Reason codes and scores in plain words, for the people who moderate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moderation.domain.policy import HEADS

# What each stored reason code means, said to a moderator (the detail follows it).
PLAIN: dict[str, str] = {
    "honeypot": "A hidden form field that people never see was filled in (a bot trap).",
    "too_fast": "The form was sent faster than a person usually types (a bot trap; "
    "autofill can do this too).",
    "bad_form_token": "The form's security token was not one this service issued.",
    "replayed_form_token": "The form's token had already been used for another comment.",
    "no_form_token": "The form came without its security token (a bot, or a page without "
    "JavaScript or cookies).",
    "expired_form_token": "The form's token was too old (the page was open for a long time).",
    "blocked_ip": "The author's address is on the block list.",
    "blocked_email": "The author's email is on the block list.",
    "blocked_domain": "The email or website domain is on the block list.",
    "banned_word": "It contains a banned word.",
    "suspect_word": "It contains a word that is always checked by a person.",
    "too_many_links": "It has more links than a comment may have without review.",
    "spam_score": "The spam model is sure it is spam.",
    "abuse_score": "The abuse model is sure it attacks someone.",
    "spam_uncertain": "The spam model is unsure: the score is between publishing and refusing.",
    "abuse_uncertain": "The abuse model is unsure: the score is between publishing and refusing.",
    "abuse_unaddressed": "Strong language, but aimed at no one in particular, so a person decides.",
    "model_clear": "Both models found it fine.",
    "model_unavailable": "No model was available to score it, so a person decides.",
    "unsupported_language": "It is in a language the models were not trained for.",
    "new_author": "The author has no comments approved by a moderator yet.",
    "trusted_author": "The author is trusted (approved history, or trusted by a moderator).",
    "moderator": "Decided by a moderator.",
    "moderator_reason": "The moderator's reason:",
    "changed": "A moderator changed an earlier decision.",
    "undo": "A moderator undid a decision; the comment is back in review.",
    "reports_handled": "Readers' reports on it were handled.",
}


def plain(reason: Mapping[str, Any]) -> str:
    """A reason in plain words (the code itself when it is unknown)."""
    code = str(reason.get("code", ""))
    return PLAIN.get(code, code.replace("_", " ").capitalize() + ".")


def band(score: float | None, thresholds: Mapping[str, float] | None) -> str:
    """Where a score sits against its head's thresholds, in words."""
    if score is None:
        return "not scored"
    if not thresholds:
        return "thresholds unknown"
    if score >= thresholds["reject"]:
        return "at or above the refuse threshold"
    if score >= thresholds["allow"]:
        return "in the review band"
    return "below the publish threshold"


def score_lines(
    scores: Mapping[str, float | None], thresholds: Mapping[str, Mapping[str, float]] | None
) -> list[dict[str, Any]]:
    """Per head: the score, the thresholds that decided it, and where the score sits."""
    lines = []
    for head in HEADS:
        t = (thresholds or {}).get(head)
        lines.append(
            {
                "head": head,
                "score": scores.get(head),
                "allow": t["allow"] if t else None,
                "reject": t["reject"] if t else None,
                "band": band(scores.get(head), t),
            }
        )
    return lines
