"""Text processing takes linear time on hostile input (4x the text costs at most ~4x the time).

A backtracking regular expression once made a 60,000-character comment cost 25 s. Every
function that reads comment text is timed here at two lengths, 4x apart; the ratio of a linear
function is about 4, of a quadratic one about 16, so a busy machine (which can make one of the
two timings up to 50% slower) cannot turn a linear function into a failure. Times are the best of
three rounds of repeated calls, so a busy machine makes a function look slower at both lengths
rather than at one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from moderation.domain.rules import IntakeSettings
from moderation.ml.features import (
    MAX_SCORED_CHARS,
    CommentInput,
    count_links,
    metadata_tokens,
    normalise,
    normalise_with_offsets,
    to_rows,
)
from moderation.ml.signals import _found
from tests import adversarial

pytestmark = pytest.mark.unit

MAX_RATIO = 6.0
SHORT, LONG = 8_000, 32_000  # characters; the intake's limit is 65,525 bytes


def per_call(fn: Callable[[str], object], text: str, *, budget: float = 0.004) -> float:
    """Seconds per call: the best of three rounds of calls lasting at least ``budget`` each."""
    best = float("inf")
    for _ in range(3):
        calls, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < budget or calls == 0:
            fn(text)
            calls += 1
        best = min(best, elapsed / calls)
    return best


def _ratio(fn: Callable[[str], object], short: str, long: str) -> float:
    fn(short), fn(long)  # warm caches (the character table) before timing
    ratio = per_call(fn, long) / per_call(fn, short)
    for budget in (0.03, 0.1, 0.3):  # longer looks before blaming the code for a busy moment
        if ratio <= MAX_RATIO:
            break
        ratio = min(ratio, per_call(fn, long, budget=budget) / per_call(fn, short, budget=budget))
    return ratio


_BANNED = IntakeSettings(banned_words=("idiot", "f u c k", "viagra", "a a a"))
FUNCTIONS: dict[str, Callable[[str], object]] = {
    "normalise": normalise,
    "normalise_with_offsets": normalise_with_offsets,
    "metadata_tokens": lambda text: metadata_tokens(CommentInput(text)),
    "count_links": count_links,
    "banned_words": lambda text: _found(_BANNED.banned_words, normalise(text)),
}
SHORT_TEXTS = adversarial.all_texts(SHORT)
LONG_TEXTS = adversarial.all_texts(LONG)


@pytest.mark.parametrize("name", sorted(SHORT_TEXTS))
@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_text_functions_are_linear(function: str, name: str) -> None:
    ratio = _ratio(FUNCTIONS[function], SHORT_TEXTS[name], LONG_TEXTS[name])
    assert ratio <= MAX_RATIO, f"{function} on {name}: 4x the text cost {ratio:.1f}x"


def test_scoring_reads_a_bounded_part_of_the_text() -> None:
    long = "you are an idiot " * 4000
    row = to_rows([CommentInput(long)])[0]
    assert len(row[0]) == MAX_SCORED_CHARS
    assert count_links("x " * 40_000 + "see https://spam.example") == 1  # rules read it all
