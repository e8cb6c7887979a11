"""The model committed in models/: it loads, and it behaves on comments it never saw."""

from __future__ import annotations

import numpy as np
import pytest

from moderation.domain.policy import Status, decide_scores
from moderation.ml import artifacts
from moderation.ml.datasets import load_holdout
from moderation.ml.features import CommentInput, to_rows
from moderation.ml.model import CompiledHead
from moderation.services.scoring import SklearnScorer
from tests.conftest import DATA_DIR, MODELS_DIR

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def scorer(shipped_model: artifacts.ModelArtifact) -> SklearnScorer:
    return SklearnScorer(shipped_model)


def test_the_active_model_verifies(shipped_model: artifacts.ModelArtifact) -> None:
    assert shipped_model.version == artifacts.active_version(MODELS_DIR)
    for head in artifacts.HEADS:
        entry = shipped_model.manifest["heads"][head]
        assert artifacts.sha256_file(shipped_model.path / entry["file"]) == entry["sha256"]
        t = shipped_model.thresholds[head]
        assert 0 < t.allow <= t.reject <= 1
    assert (shipped_model.path / "report.md").is_file()
    assert (shipped_model.path / "MODEL_CARD.md").is_file()
    assert (shipped_model.path / "pr_spam.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("plain", "evasive"),
    [
        ("fuck you, you stupid bitch", "f4ck you, you st.u.p.i.d b1tch"),
        ("fuck you, you stupid bitch", "f u c k you, you stuuuupid b i t c h"),
        ("you are an idiot and a loser", "yоu аrе аn іdіоt аnd а lоsеr"),  # Cyrillic
        ("you are an idiot and a loser", "you are an id10t and a l0ser"),
        ("shut up you moron", "shut up you m\u200bo\u200br\u200bon"),
        ("buy cheap viagra and cialis online", "buy cheap v1agra and c1alis online"),
        ("buy cheap viagra and cialis online", "buy cheap &#118;iagra and ｃｉａｌｉｓ online"),
    ],
)
def test_evasions_score_like_their_plain_forms(
    scorer: SklearnScorer, plain: str, evasive: str
) -> None:
    a, b = scorer.score_many([CommentInput(plain), CommentInput(evasive)])
    for head in artifacts.HEADS:
        assert abs(a[head] - b[head]) < 0.02, (head, a, b)
    assert decide_scores(a, scorer.thresholds) == decide_scores(b, scorer.thresholds)


# Written for this test, not taken from the training data: civil replies that talk about
# violence, war and crime, and short replies. None may be refused.
CIVIL = [
    "The airstrike killed at least forty people, most of them children. Whatever one thinks "
    "of the war, the government owes the families an independent investigation.",
    "Calling him a dictator is accurate: he cancelled two elections and jailed the judges "
    "who ruled against him. The article is too polite about it.",
    "My grandfather survived the bombing of Dresden. He never spoke about it until he was 80.",
    "I think this bill will kill small shops in the high street, and the minister knows it.",
    "The murder rate in the city fell for the third year running; the piece should say so.",
    "ok",
    "Thanks, this was really useful.",
    "Sorry, I was stupid to believe the first reports. Thanks for the correction.",
    "Terrorists attacked the market at noon, according to the police statement quoted above.",
]


@pytest.mark.parametrize("text", CIVIL)
def test_civil_comments_are_never_refused(scorer: SklearnScorer, text: str) -> None:
    comment = CommentInput(text, author="Maria Lopez", email="maria.lopez@example.org")
    decision = decide_scores(scorer.score(comment), scorer.thresholds)
    assert decision.status in (Status.APPROVED, Status.PENDING)


def test_blatant_spam_is_spam(scorer: SklearnScorer) -> None:
    comment = CommentInput(
        "Great post! Buy cheap viagra without prescription at our online pharmacy, fast "
        "shipping, best prices: https://cheap-pills-store.xyz/viagra",
        author="cheap viagra online",
        email="sales@cheap-pills-store.xyz",
        url="https://cheap-pills-store.xyz",
    )
    assert decide_scores(scorer.score(comment), scorer.thresholds).status is Status.SPAM


def test_blatant_abuse_is_rejected(scorer: SklearnScorer) -> None:
    comment = CommentInput("fuck you, you stupid fucking bitch, nobody wants you here")
    assert decide_scores(scorer.score(comment), scorer.thresholds).status is Status.REJECTED


def test_compiled_heads_equal_the_pipelines_on_held_out_replies(
    shipped_model: artifacts.ModelArtifact,
) -> None:
    rows = to_rows([e.as_input() for e in load_holdout(DATA_DIR)])
    for _head, pipeline in shipped_model.pipelines.items():
        compiled = CompiledHead(pipeline)
        expected = pipeline.predict_proba(rows)[:, 1]
        got = np.array([compiled.probability(row) for row in rows])
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_batch_and_single_scoring_agree(scorer: SklearnScorer) -> None:
    comments = [e.as_input() for e in load_holdout(DATA_DIR)][:100]
    batch = scorer.score_many(comments)  # >= 64: the scikit-learn path
    singles = [scorer.score(c) for c in comments]  # the compiled path
    for a, b in zip(batch, singles, strict=True):
        for head in artifacts.HEADS:
            assert a[head] == pytest.approx(b[head], abs=1e-12)
