"""Hostile comment texts for the linear-time test and the adversarial benchmark.

Each maker takes a length in characters and returns a text of about that length, built to make
a backtracking regular expression or a per-character loop do the most work: long runs of one
character class, alternations of two, near-misses of every pattern in ``moderation.ml.features``.
"""

from __future__ import annotations

import random
from collections.abc import Callable

_BLOCKS = {
    "repeated_letter": "a",
    "letter_digit": "a1",
    "letter_dot": "x.",
    "digits": "1",
    "digit_space": "1 ",
    "spaced_letters": "a ",
    "spaced_then_word": "a ",  # closed by "ab" below: every run fails at its end
    "double_spaced": "a  ",
    "dash_letters": "a-",
    "dotted_pairs": "a.b.",
    "leet_word": "f4ck",
    "leet_mix": "a1!",
    "money": "$1",
    "phone_like": "+1 ",
    "url_run": "www.a.com/",
    "at_signs": "a@",
    "emails": "a@b.c ",
    "words_and_at": "aa.aa@",
    "entities": "&amp;",
    "nested_entities": "&amp;amp;",
    "numeric_entities": "&#1234567",
    "homoglyphs": "аео",  # Cyrillic а, е, о
    "zero_width": "a\u200b",
    "underscores": "_",
    "stars": "a*",
    "long_domain": "a-",  # closed by ".com" below
    "bbcode": "[url",
    "anchors": "<a ",
    "newlines": "a\n",
    "fullwidth": "ｆｕｃｋ",
}
_ENDINGS = {"spaced_then_word": "ab", "long_domain": ".com"}


def fixed(length: int) -> dict[str, str]:
    """The named hostile texts, each ``length`` characters or a few more."""
    texts = {}
    for name, block in _BLOCKS.items():
        ending = _ENDINGS.get(name, "")
        texts[name] = block * ((length - len(ending)) // len(block)) + ending
    texts["http_prefix"] = "http://" + "a" * (length - 7)
    texts["rare_code_points"] = "".join(chr(0x10000 + i) for i in range(length))
    return texts


_ALPHABET = [*"a14!$.-_ @&#;x/:w*+(\n", "é", "\u200b", "а", "  ", "&amp;", "http://"]


def fuzzed(length: int, *, count: int = 20, seed: int = 0) -> dict[str, str]:
    """``count`` texts made of one random short block repeated (seeded, so reproducible)."""
    rnd = random.Random(seed)
    texts = {}
    for i in range(count):
        block = "".join(rnd.choice(_ALPHABET) for _ in range(rnd.randint(2, 6)))
        texts[f"fuzz{i}:{block!r}"] = (block * (length // len(block) + 1))[:length]
    return texts


def all_texts(length: int) -> dict[str, str]:
    """Fixed and fuzzed hostile texts."""
    return {**fixed(length), **fuzzed(length)}


Maker = Callable[[int], dict[str, str]]
