"""The bundled data sets' loaders: what each keeps, drops and how it labels."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from moderation.ml.datasets import detokenise, load_bundled, with_splits
from tests.conftest import DATA_DIR

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("tokenised", "plain"),
    [
        ("cos reddit isn 't all one person ?", "cos reddit isn't all one person?"),
        ("you 're an idiot .", "you're an idiot."),
        ("ca n't believe it ! !", "can't believe it!!"),
        ("he said ( loudly ) $ 5 , ok ?", "he said (loudly) $5, ok?"),
        ("Already fine, isn't it?", "Already fine, isn't it?"),
    ],
)
def test_detokenise(tokenised: str, plain: str) -> None:
    assert detokenise(tokenised) == plain


@pytest.fixture(scope="module")
def bundled() -> list:  # type: ignore[type-arg]
    return with_splits(load_bundled(DATA_DIR))


def test_every_bundled_set_is_read_with_the_labels_it_carries(bundled: list) -> None:  # type: ignore[type-arg]
    cells = Counter((e.dataset, e.spam, e.abuse) for e in bundled)
    assert cells[("paradetox", 0, 1)] > 10_000
    assert cells[("paradetox", 0, 0)] > 15_000
    assert cells[("civil_comments", 0, 1)] > 7_000
    assert cells[("wikipedia", 0, 0)] > 19_000
    assert not any(d == "wikipedia" and a == 1 for d, _, a in cells)  # its toxic rows are out
    assert 40 <= cells[("tg_spam", 1, 0)] <= 48  # the English spam lines only
    assert cells[("own", 0, 0)]
    assert cells[("own", 1, 0)]
    assert cells[("own", 0, 1)]


def test_paradetox_keeps_pairs_together_and_drops_the_rows_its_source_names(
    bundled: list,  # type: ignore[type-arg]
) -> None:
    paradetox = [e for e in bundled if e.dataset == "paradetox"]
    splits: dict[str, set[str | None]] = {}
    for e in paradetox:
        splits.setdefault(e.group, set()).add(e.split)
    assert all(len(s) == 1 for s in splits.values())
    texts = {e.content for e in paradetox}
    assert "What are you talking about?" not in texts
    assert "are you fucking kidding me?" not in texts
    # No side keeps the tokenised spacing that would tell toxic from civil.
    spaced = re.compile(r"\s[.,!?;:](?:\s|$)|\w n't\b|\w 're\b")
    assert not [t for t in texts if spaced.search(t)]
