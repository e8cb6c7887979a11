"""The head pipelines: calibration folding, the compiled scorer and explanations."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from moderation.ml.artifacts import ModelArtifact
from moderation.ml.features import CommentInput, only_stop_words, to_rows
from moderation.ml.model import (
    MIN_WEIGHT,
    QUIET_SHARE,
    RELATIVE_WEIGHT,
    CompiledHead,
    Contribution,
    build_pipeline,
    explain,
    fold_platt_scaling,
    platt_scaling,
    predict_many,
)
from moderation.services.scoring import SklearnScorer
from tests.conftest import TINY_TEXTS

pytestmark = pytest.mark.unit

SAMPLES = [
    CommentInput("Buy cheap V1AGRA now!!! http://pills.example", "cheap pills", "a1@b.ru", "x.xyz"),
    CommentInput("thanks for the article, very clear and fair"),
    CommentInput(""),
    CommentInput("unseen words only: zyxw qwerty"),
    CommentInput("casino casino casino bonus bonus", url="https://casino.example/bonus"),
]


def test_compiled_head_equals_predict_proba(tiny_pipeline: Pipeline) -> None:
    compiled = CompiledHead(tiny_pipeline)
    rows = to_rows(SAMPLES)
    expected = tiny_pipeline.predict_proba(rows)[:, 1]
    got = np.array([compiled.probability(row) for row in rows])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_platt_folding_keeps_ranking_and_moves_probabilities() -> None:
    pipeline = build_pipeline(c=10.0)
    rows = to_rows([CommentInput(t) for t, _ in TINY_TEXTS])
    labels = [y for _, y in TINY_TEXTS]
    pipeline.fit(rows, np.array(labels))
    before = pipeline.decision_function(rows)
    a, b = platt_scaling(before, labels)
    fold_platt_scaling(pipeline, a, b)
    after = pipeline.decision_function(rows)
    assert a > 0  # a monotone map: the ranking is kept
    np.testing.assert_allclose(after, a * before + b, atol=1e-9)
    assert not np.allclose(before, after)


def test_explain_gives_spans_in_the_original_text(tiny_pipeline: Pipeline) -> None:
    text = "Best C4SINO bonus, click here"
    contributions = explain(tiny_pipeline, CommentInput(text), top=20, complete=True)
    assert contributions
    assert [c.weight for c in contributions] == sorted(
        (c.weight for c in contributions), reverse=True
    )
    by_feature = {c.feature: c for c in contributions}
    assert "casino" in by_feature
    (start, end), *_ = by_feature["casino"].spans
    assert text[start:end] == "C4SINO"
    assert all(c.weight > 0 for c in contributions)


@pytest.fixture(scope="module")
def char_pipelines() -> dict[str, Pipeline]:
    """Two heads with word, character and (for spam) metadata blocks, as the recipe builds."""
    rows = to_rows([CommentInput(t) for t, _ in TINY_TEXTS])
    labels = np.array([y for _, y in TINY_TEXTS])
    heads = {}
    for head, metadata in (("spam", True), ("abuse", False)):
        pipeline = build_pipeline(c=10.0, metadata=metadata, chars=(3, 5))
        heads[head] = pipeline.fit(rows, labels)
    return heads


CORPUS = [
    *(sample.content for sample in SAMPLES),
    "Best C4SINO bonus, click here",
    "",
    "a",
    "Ünïcödé wörds and 表情 😂 and   spaces\tand\nlines",
    "x " * 300,
]


def test_predict_many_equals_predict_proba(char_pipelines: dict[str, Pipeline]) -> None:
    rows = to_rows([CommentInput(t, author="Cheap Pills 24") for t in CORPUS * 30])
    got = predict_many(char_pipelines, rows)
    for head, pipeline in char_pipelines.items():
        np.testing.assert_array_equal(got[head], pipeline.predict_proba(rows)[:, 1])


def test_compiled_head_with_characters_equals_predict_proba(
    char_pipelines: dict[str, Pipeline],
) -> None:
    rows = to_rows([*SAMPLES, *(CommentInput(t) for t in CORPUS)])
    for pipeline in char_pipelines.values():
        compiled = CompiledHead(pipeline)
        expected = pipeline.predict_proba(rows)[:, 1]
        got = np.array([compiled.probability(row) for row in rows])
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_character_ngrams_are_explained_as_the_words_they_fall_in(
    char_pipelines: dict[str, Pipeline],
) -> None:
    text = "Buy cheap V1AGRA now!!! best casino"
    contributions = explain(char_pipelines["spam"], CommentInput(text), top=50, complete=True)
    features = {c.feature for c in contributions}
    assert "viagra" in features
    # No bare character n-gram ("iag", " vi") is ever shown.
    words = {w for c in contributions for w in c.feature.split()}
    assert words <= set(to_rows([CommentInput(text)])[0][0].split()) | {
        "buy",
        "cheap",
        "viagra",
        "now",
        "best",
        "casino",
    } | {c.feature for c in contributions if c.feature.startswith(("links=", "len="))}
    (start, end), *_ = next(c for c in contributions if c.feature == "viagra").spans
    assert text[start:end] == "V1AGRA"


# ------------------------------------------------- explanations on the shipped model


@pytest.fixture(scope="module")
def shipped_scorer(shipped_model: ModelArtifact) -> SklearnScorer:
    return SklearnScorer(shipped_model)


# Real replies of the kinds a moderator reviews (from the held-out news replies), with the head
# that holds or refuses them.
REFUSED = [
    ("abuse", "You are a complete idiot and should shut up."),
    (
        "abuse",
        "@Wanjiru nobody asked you. Go back to lecturing your goats, you obviously can't"
        " read a results table.",
    ),
    ("abuse", "Liz nobody cares about your pedantic corrections, you sad lonely cow. Get a life."),
    ("abuse", "what a stupid decision by the government, they never learn"),
    ("spam", "Buy cheap viagra now at www.pills-cheap.xyz best prices!!!"),
    ("spam", "Earn $500 a day working from home, contact me on whatsapp +1 555 123 4567"),
]


def _cut(contributions: list[Contribution]) -> float:
    """The cut-off the rule promises, computed here from the unfiltered explanation."""
    shown = [c for c in contributions if c.spans == () or not only_stop_words(c.feature)]
    return max(MIN_WEIGHT, RELATIVE_WEIGHT * max(c.weight for c in shown))


@pytest.mark.parametrize(("head", "text"), REFUSED)
def test_explanations_keep_only_contributions_above_the_cut_off(
    shipped_scorer: SklearnScorer, head: str, text: str
) -> None:
    comment = CommentInput(text, "Reader", "reader@example.org")
    complete = shipped_scorer.explain(comment, top=100, complete=True)[head]
    shown = shipped_scorer.explain(comment, top=100)[head]
    cut = _cut(complete)
    assert shown, "a refused comment's own head explains it"
    assert all(c.weight >= cut for c in shown)
    # Exactly what passes the rules, in the same order: nothing above the cut is lost.
    assert [c.feature for c in shown] == [
        c.feature
        for c in complete
        if c.weight >= cut and (c.spans == () or not only_stop_words(c.feature))
    ]
    # The cut-off does remove something on every one of these comments.
    assert len(shown) < len(complete)


def test_a_dominant_word_hides_the_small_ones(shipped_scorer: SklearnScorer) -> None:
    comment = CommentInput("You are a complete idiot and should shut up.")
    complete = {c.feature for c in shipped_scorer.explain(comment, complete=True)["abuse"]}
    assert {"idiot", "should", "complete"} <= complete
    assert [c.feature for c in shipped_scorer.explain(comment)["abuse"]] == ["idiot"]


@pytest.mark.parametrize(("head", "text"), REFUSED)
def test_stop_words_alone_are_never_highlighted(
    shipped_scorer: SklearnScorer, head: str, text: str
) -> None:
    comment = CommentInput(text)
    explained = shipped_scorer.explain(comment, top=100)
    assert any(c.spans for c in explained[head]), "the refused comment's head shows words"
    for contributions in explained.values():
        assert not [c.feature for c in contributions if c.spans and only_stop_words(c.feature)]


def test_stop_words_the_model_weighs_heavily_are_dropped(shipped_scorer: SklearnScorer) -> None:
    text = "@Wanjiru nobody asked you. Go back to lecturing your goats, you obviously can't read."
    comment = CommentInput(text)
    complete = {
        c.feature: c.weight for c in shipped_scorer.explain(comment, complete=True)["abuse"]
    }
    # The model gives "nobody", "your" and "you" real weight ...
    assert min(complete["nobody"], complete["your"], complete["you"]) > MIN_WEIGHT
    shown = {c.feature for c in shipped_scorer.explain(comment)["abuse"]}
    # ... but they say nothing alone; the insult does.
    assert "lecturing" in shown
    assert not shown & {"nobody", "your", "you", "back to", "go back"}


def test_stop_word_rule() -> None:
    assert only_stop_words("is")
    assert only_stop_words("to the")
    assert only_stop_words("again")
    assert only_stop_words("don")  # from "don't"
    assert not only_stop_words("shut up")
    assert not only_stop_words("idiot")
    assert not only_stop_words("fire")  # a content word in scikit-learn's list


@pytest.mark.parametrize(
    "text",
    [
        "Great reporting, thank you.",
        "This is the third time the council has failed to fix the road to town again.",
        "I think the mayor is wrong about the budget, but the article is fair.",
    ],
)
def test_a_head_far_below_its_allow_threshold_explains_nothing(
    shipped_scorer: SklearnScorer, text: str
) -> None:
    comment = CommentInput(text, "Margaret", "margaret@gmail.com")
    spam = shipped_scorer.score(comment)["spam"]
    assert spam < QUIET_SHARE * shipped_scorer.thresholds["spam"].allow
    # Something did raise the spam score a little (no orange highlight for it, though).
    assert shipped_scorer.explain(comment, complete=True)["spam"]
    assert shipped_scorer.explain(comment)["spam"] == []


def test_a_head_near_its_allow_threshold_is_explained(shipped_scorer: SklearnScorer) -> None:
    comment = CommentInput(
        "This is the third time the council has failed to fix the road to town again."
    )
    abuse = shipped_scorer.score(comment)["abuse"]
    allow = shipped_scorer.thresholds["abuse"].allow
    assert QUIET_SHARE * allow <= abuse < allow
    shown = [c.feature for c in shipped_scorer.explain(comment)["abuse"]]
    assert shown == ["town", "failed"]  # not "is", "to", "again", "the"


def test_contributions_have_plain_word_labels(shipped_scorer: SklearnScorer) -> None:
    comment = CommentInput(
        "Earn $500 a day working from home, contact me on whatsapp +1 555 123 4567",
        "Cash Queen 99",
        "cashqueen1999@mail.ru",
    )
    explanation = shipped_scorer.explain(comment)["spam"]
    labels = {c.feature: c.label for c in explanation}
    assert labels["phone_in_text"] == "a phone number in the text"
    assert labels["money_in_text"] == "a sum of money in the text"
    assert labels["whatsapp"] == '"whatsapp"'
    for contribution in explanation:
        as_dict = contribution.as_dict()
        assert set(as_dict) == {"feature", "label", "weight", "spans"}
        assert "_" not in as_dict["label"]
        assert "=" not in as_dict["label"]


def test_explain_is_fast_enough_to_run_at_intake(shipped_scorer: SklearnScorer) -> None:
    """Not a benchmark: a guard against an explanation that costs 100x a score."""
    comment = CommentInput(REFUSED[1][1])
    shipped_scorer.explain(comment)
    started = time.perf_counter()
    for _ in range(20):
        shipped_scorer.explain(comment)
    assert (time.perf_counter() - started) / 20 < 0.05


def test_a_decision_made_by_stop_words_alone_shows_them(shipped_scorer: SklearnScorer) -> None:
    # A keyboard run normalises to "a", which the abuse head weighs heavily on its own: the
    # comment is held, and its explanation names what held it instead of nothing.
    text = "a" * 54
    comment = CommentInput(text)
    scores = shipped_scorer.score(comment)
    assert scores["abuse"] >= shipped_scorer.thresholds["abuse"].allow
    shown = shipped_scorer.explain(comment)["abuse"]
    assert [c.feature for c in shown] == ["a"]
    assert shown[0].spans
    assert all(text[s:e] and set(text[s:e]) == {"a"} for s, e in shown[0].spans)
    # A head whose score decided nothing still shows no stop words.
    assert shipped_scorer.explain(CommentInput("is it?"))["spam"] == []
