"""What the intake rules find in a comment's text alone: listed words, links, its language.

It reads the text with the same normalisation as the models (:mod:`moderation.ml.features`),
so training's functional checks and the intake apply the rules alike.
"""

from __future__ import annotations

import re
from functools import lru_cache

from moderation.domain.policy import Signals
from moderation.domain.rules import IntakeSettings
from moderation.ml.features import addresses_someone, count_links, normalise
from moderation.ml.language import detect as detect_language


@lru_cache(maxsize=32)
def _word_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    cleaned = [normalise(w).strip() for w in words if w.strip()]
    if not cleaned:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in cleaned) + r")\b")


def _found(words: tuple[str, ...], normalised: str) -> tuple[str, ...]:
    pattern = _word_pattern(words)
    if pattern is None:
        return ()
    return tuple(dict.fromkeys(m.group() for m in pattern.finditer(normalised)))


def content_signals(content: str, settings: IntakeSettings) -> Signals:
    """What the rules find in a comment's text alone: listed words, links, its language."""
    # Word lists read the whole text (the models read only its scored part).
    normalised = normalise(content) if settings.banned_words or settings.suspect_words else ""
    language = detect_language(content)
    return Signals(
        banned_words=_found(settings.banned_words, normalised),
        suspect_words=_found(settings.suspect_words, normalised),
        links=count_links(content),
        max_links=settings.max_links,
        unsupported_language=None if language.supported else language.code,
        addressed=addresses_someone(content),
    )
