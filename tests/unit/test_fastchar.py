"""The fast char_wb hasher gives exactly scikit-learn's HashingVectorizer matrix."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32

from moderation.ml import fastchar
from moderation.ml.fastchar import char_wb_counts

pytestmark = pytest.mark.unit

TRICKY = [
    "",
    "a",
    "ab",
    "abc",
    "aaaaaa aaaa",
    " ",
    "     ",
    "\t\n\r\x0b\x0c",
    "a b c",
    "ab  cd   ef",
    "  leading and trailing  ",
    "tab\tsep\nnew\r\nline\x0bvt\x0cff",
    "nbsp\u00a0sep and\u3000ideographic\u2003em space",
    "line\u2028sep\u2029para\x1cfs\x1dgs\x85nel",
    "zero\u200bwidth\ufeffbom are not spaces",
    "\x00nul \x00",
    "日本語のテキストです",
    "中 文 字符",
    "emoji 😀 👍🏽 family 👨‍👩‍👧 😀😀😀😀😀😀",
    "😀",
    "e\u0301 combining cafe\u0301 \u0301",
    "привет world мир hello, сука idiot",
    "ﬁ ligature ß ǅ Ⅻ",
    "mixed façade naïve ok 123 $$$ !!!",
    "x" * 20_000,
    ("lorem ipsum dolor sit amet, кот 猫 🐈 " * 700)[:20_000],
]

NGRAM_RANGES = [(2, 5), (3, 5), (1, 3), (2, 2)]
N_FEATURES = [2**19, 2**20, 1000]


def sklearn_counts(
    texts: Sequence[str], ngram_range: tuple[int, int], n_features: int
) -> sp.csr_matrix:
    vectorizer = HashingVectorizer(
        analyzer="char_wb",
        lowercase=False,
        ngram_range=ngram_range,
        n_features=n_features,
        alternate_sign=False,
        norm=None,
        dtype=np.float64,
    )
    return vectorizer.transform(texts)


def assert_same_as_sklearn(
    texts: Sequence[str], ngram_range: tuple[int, int], n_features: int
) -> None:
    expected = sklearn_counts(texts, ngram_range, n_features)
    got = char_wb_counts(texts, ngram_range=ngram_range, n_features=n_features)
    assert isinstance(got, sp.csr_matrix)
    assert got.shape == expected.shape
    assert got.dtype == np.float64
    assert got.has_canonical_format
    differing = np.unique((got != expected).nonzero()[0])
    assert differing.size == 0, [texts[i][:80] for i in differing[:5]]


@pytest.mark.parametrize("ngram_range", NGRAM_RANGES)
@pytest.mark.parametrize("n_features", N_FEATURES)
def test_tricky_strings_match_sklearn(ngram_range: tuple[int, int], n_features: int) -> None:
    assert_same_as_sklearn(TRICKY, ngram_range, n_features)


@pytest.mark.parametrize("text", TRICKY[:-2])
def test_each_tricky_string_alone(text: str) -> None:
    assert_same_as_sklearn([text], (2, 5), 2**19)


@pytest.mark.parametrize("ngram_range", [(1, 1), (4, 6), (5, 5), (6, 9), (3, 3)])
def test_other_ranges_including_words_shorter_than_min_n(ngram_range: tuple[int, int]) -> None:
    # With min_n > 3, a padded one-letter word (" a ") is still emitted once, whole.
    assert_same_as_sklearn(TRICKY, ngram_range, 2**19)


def random_corpus(seed: int, size: int) -> list[str]:
    rng = random.Random(seed)
    alphabets = [
        ("abcdefghijklmnopqrstuvwxyz", 40),
        ("0123456789.,!?'\"-*$@#", 6),
        (" " * 8 + "\t\n\u00a0\u3000\u2003\x85", 12),
        ("éèêëàâçôûüïñßæø", 3),
        ("абвгдежзийклмнопрстуфхцчшщыэюя", 3),
        ("日本語中文字符猫犬漢", 2),
        ("😀👍🏽🐈🔥❤\ufe0f\u200d", 2),
        ("\u0301\u0308\u200b\ufeff\x00", 1),
    ]
    chars = [chars for chars, _ in alphabets]
    weights = [weight for _, weight in alphabets]
    corpus = []
    for _ in range(size):
        length = rng.choice([0, 1, 2, 5, rng.randint(0, 40), rng.randint(50, 300)])
        picks = rng.choices(chars, weights, k=length)
        corpus.append("".join(rng.choice(alphabet) for alphabet in picks))
    return corpus


@pytest.mark.parametrize(
    ("ngram_range", "n_features"),
    [((2, 5), 2**19), ((3, 5), 2**20), ((1, 3), 1000), ((2, 2), 2**19), ((4, 6), 2**19)],
)
def test_random_corpus_matches_sklearn(ngram_range: tuple[int, int], n_features: int) -> None:
    assert_same_as_sklearn(random_corpus(seed=20240611, size=2000), ngram_range, n_features)


def test_word_chunks_are_stitched_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastchar, "_CHUNK_WORDS", 3)
    assert_same_as_sklearn(random_corpus(seed=7, size=200), (2, 5), 2**19)


def test_repeated_words_are_counted_per_occurrence() -> None:
    texts = ["the cat the cat the", "the", "cat the", "the the the the"]
    got = char_wb_counts(texts, ngram_range=(2, 5), n_features=2**19)
    assert got.sum(axis=1).A1.tolist() == [50, 10, 20, 40]  # " the " has 4+3+2+1 grams
    assert_same_as_sklearn(texts, (2, 5), 2**19)


@pytest.mark.parametrize("length", range(25))
def test_vectorised_murmurhash_matches_sklearn(length: int) -> None:
    rng = np.random.default_rng(length)
    keys = [rng.integers(0, 256, length, dtype=np.uint8).tobytes() for _ in range(20)]
    data = np.frombuffer(b"<" + b"".join(keys) + b">", dtype=np.uint8)
    start = 1 + length * np.arange(len(keys), dtype=np.int64)
    got = fastchar._murmurhash3_32(data, start, np.full(len(keys), length, dtype=np.int64))
    assert got.tolist() == [murmurhash3_32(key, seed=0, positive=True) for key in keys]


def test_feature_index_of_int32_min_follows_sklearn() -> None:
    hashes = np.array([0, 1, 2**31 - 1, 2**31, 2**32 - 1], dtype=np.uint32)
    for n_features in (1000, 2**19, 7, 2**31 - 1):
        # scikit-learn's _hashing_fast: abs(h) % n, with abs(-2**31) special-cased
        expected = [
            (2147483647 - (n_features - 1)) % n_features if h == -(2**31) else abs(h) % n_features
            for h in hashes.view(np.int32).tolist()
        ]
        assert fastchar._feature_index(hashes, n_features).tolist() == expected


def test_empty_batches() -> None:
    assert char_wb_counts([], ngram_range=(2, 5), n_features=2**19).shape == (0, 2**19)
    only_space = char_wb_counts(["", "  ", "\u3000"], ngram_range=(2, 5), n_features=2**19)
    assert only_space.shape == (3, 2**19)
    assert only_space.nnz == 0


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="string object"):
        char_wb_counts("just one text", ngram_range=(2, 5), n_features=2**19)
    with pytest.raises(ValueError, match="ngram_range"):
        char_wb_counts(["x"], ngram_range=(5, 2), n_features=2**19)
    with pytest.raises(ValueError, match="ngram_range"):
        char_wb_counts(["x"], ngram_range=(0, 2), n_features=2**19)
    with pytest.raises(ValueError, match="n_features"):
        char_wb_counts(["x"], ngram_range=(2, 5), n_features=0)


def test_unencodable_text_fails_like_sklearn() -> None:
    # A lone surrogate cannot be UTF-8 encoded; scikit-learn raises the same error.
    with pytest.raises(UnicodeEncodeError):
        sklearn_counts(["a \ud800b"], (2, 5), 2**19)
    with pytest.raises(UnicodeEncodeError):
        char_wb_counts(["a \ud800b"], ngram_range=(2, 5), n_features=2**19)
