"""Exact, fast stand-in for ``HashingVectorizer(analyzer="char_wb")`` at serving time.

:func:`char_wb_counts` returns scikit-learn's matrix, computed with NumPy over the whole batch
instead of Python per n-gram: the n-grams of a text are those of its words, so each distinct
word is cut and hashed once (MurmurHash3, vectorised). Training keeps using scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

_CHUNK_WORDS = 8192  # distinct words hashed at a time (keeps the temporary arrays small)

_U32 = npt.NDArray[np.uint32]
_I64 = npt.NDArray[np.int64]

# MurmurHash3_x86_32 constants (Austin Appleby's reference implementation).
_C1 = np.uint32(0xCC9E2D51)
_C2 = np.uint32(0x1B873593)
_TAIL_MASK = np.array([0, 0xFF, 0xFFFF, 0xFFFFFF], dtype=np.uint32)


def char_wb_counts(
    texts: Sequence[str], *, ngram_range: tuple[int, int], n_features: int
) -> sp.csr_matrix:
    """Hashed ``char_wb`` n-gram counts, identical to scikit-learn's ``HashingVectorizer``.

    The same as ``HashingVectorizer(analyzer="char_wb", lowercase=False,
    ngram_range=ngram_range, n_features=n_features, alternate_sign=False, norm=None,
    dtype=np.float64).transform(texts)``: a canonical (sorted, summed) CSR matrix of shape
    ``(len(texts), n_features)``. Unlike scikit-learn, an empty batch gives a 0-row matrix.
    """
    if isinstance(texts, str):
        raise ValueError("Iterable over raw text documents expected, string object received.")
    min_n, max_n = ngram_range
    if not 1 <= min_n <= max_n:
        raise ValueError(f"Invalid ngram_range {ngram_range!r}: need 1 <= min_n <= max_n.")
    if not 1 <= n_features <= np.iinfo(np.int32).max:
        raise ValueError(f"n_features must be in [1, 2**31 - 1], got {n_features!r}.")

    # scikit-learn collapses whitespace runs (r"\s\s+" -> " ") and then calls str.split(),
    # which splits on the same Unicode whitespace anyway: the words are just text.split().
    words_per_text = [text.split() for text in texts]
    n_words = np.fromiter(map(len, words_per_text), np.int64, len(words_per_text))
    all_words = list(chain.from_iterable(words_per_text))
    distinct = list(dict.fromkeys(all_words))
    word_id = dict(zip(distinct, range(len(distinct)), strict=True))
    occurrence = np.fromiter(map(word_id.__getitem__, all_words), np.int64, len(all_words))

    # Hash each distinct word once; the grams of a text are those of its word occurrences.
    columns, grams_per_word = _hash_distinct_words(distinct, min_n, max_n, n_features)
    keys = _gram_keys(columns, grams_per_word, occurrence, n_words)
    keys.sort()
    return _count_sorted_keys(keys, len(texts), n_features)


def _gram_keys(columns: _I64, grams_per_word: _I64, occurrence: _I64, n_words: _I64) -> _I64:
    """One ``text << 32 | column`` key per gram of every text, text after text.

    ``columns`` holds the grams of the distinct words (``grams_per_word`` each, word after
    word), ``occurrence`` the distinct word of each word of the texts (``n_words`` each).
    """
    first_gram = np.cumsum(grams_per_word) - grams_per_word
    grams_per_occurrence = grams_per_word[occurrence]
    occurrence_text = np.repeat(np.arange(len(n_words), dtype=np.int64), n_words)
    take = _concatenated_ranges(first_gram[occurrence], grams_per_occurrence)
    keys = np.repeat(occurrence_text << 32, grams_per_occurrence)
    keys |= columns[take]
    return keys


def _concatenated_ranges(starts: _I64, lengths: _I64) -> _I64:
    """``np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths)])``, vectorised."""
    ends = np.cumsum(lengths)
    ranges = np.repeat(starts - (ends - lengths), lengths)
    ranges += np.arange(len(ranges))
    return ranges


def _count_sorted_keys(keys: _I64, n_texts: int, n_features: int) -> sp.csr_matrix:
    """The canonical CSR matrix counting sorted ``text << 32 | column`` keys."""
    run_start = np.ones(len(keys), dtype=bool)
    np.not_equal(keys[1:], keys[:-1], out=run_start[1:])
    first = np.flatnonzero(run_start)
    counts = np.diff(first, append=len(keys)).astype(np.float64)
    unique_keys = keys[first]
    indptr = np.searchsorted(unique_keys, np.arange(n_texts + 1, dtype=np.int64) << 32)
    columns = (unique_keys & 0xFFFFFFFF).astype(np.int32)
    return sp.csr_matrix((counts, columns, indptr), shape=(n_texts, n_features))


def _hash_distinct_words(
    words: list[str], min_n: int, max_n: int, n_features: int
) -> tuple[_I64, _I64]:
    """The feature index of every gram of the words, word after word, and each word's count.

    Works on ``_CHUNK_WORDS`` words at a time, which keeps the temporary arrays small.
    """
    columns = [np.zeros(0, dtype=np.int64)]
    grams_per_word = [np.zeros(0, dtype=np.int64)]
    for lo in range(0, len(words), _CHUNK_WORDS):
        chunk_columns, chunk_counts = _hash_word_ngrams(
            words[lo : lo + _CHUNK_WORDS], min_n, max_n, n_features
        )
        columns.append(chunk_columns)
        grams_per_word.append(chunk_counts)
    return np.concatenate(columns), np.concatenate(grams_per_word)


def _hash_word_ngrams(
    words: list[str], min_n: int, max_n: int, n_features: int
) -> tuple[_I64, _I64]:
    """The hashed n-grams of (non-empty) words as ``_char_wb_ngrams`` cuts them.

    Returns the feature index of every gram, word after word, and the number of grams of each
    word. A word ``w`` is padded to ``" " + w + " "`` (length L). For each n in [min_n, max_n]
    with n < L every window of length n is a gram; if L <= max_n the whole padded word is one
    more (scikit-learn emits it once, at the first n >= L, and stops, even when L < min_n).
    """
    # The padded words back to back, as UTF-8, and where each code point starts in it.
    data = np.frombuffer((" " + "  ".join(words) + " ").encode("utf-8"), dtype=np.uint8)
    char_bounds = np.append(np.flatnonzero((data & 0xC0) != 0x80), len(data))
    padded_len = np.fromiter(map(len, words), dtype=np.int64, count=len(words)) + 2
    owner = np.repeat(np.arange(len(words)), padded_len)  # the word of each code point
    room = np.cumsum(padded_len)[owner] - np.arange(len(owner))  # code points to its word's end

    # Gram lengths: [min_n, max_n], and shorter ones for whole words when min_n > 3 (L >= 3).
    # emitted[p, i]: a gram of length n[i] starts at code point p.
    n = np.arange(min(min_n, 3), max_n + 1)
    emitted = room[:, None] >= n
    whole_only = n < min_n
    at_word_start = room == padded_len[owner]
    emitted[:, whole_only] &= at_word_start[:, None] & (room[:, None] == n[whole_only])
    position, n_index = np.nonzero(emitted)  # row-major, so the grams come in word order
    start = char_bounds[position]
    hashes = _murmurhash3_32(data, start, char_bounds[position + n[n_index]] - start)
    grams_per_word = np.bincount(owner[position], minlength=len(words))
    return _feature_index(hashes, n_features), grams_per_word


def _feature_index(hashes: _U32, n_features: int) -> _I64:
    """``abs(h) % n_features`` of the hashes read as signed int32, as scikit-learn does.

    In int64, abs(-2**31) is 2**31: what scikit-learn's special case for it computes too.
    """
    signed = hashes.view(np.int32).astype(np.int64)
    return np.abs(signed) % n_features


def _murmurhash3_32(data: npt.NDArray[np.uint8], start: _I64, length: _I64) -> _U32:
    """MurmurHash3 x86 32-bit, seed 0, of the byte strings ``data[start:start + length]``."""
    # The little-endian 32-bit word at every byte offset, zero past the end of the data.
    wide = np.zeros(len(data) + 4, dtype=np.uint32)
    wide[: len(data)] = data
    byte = [wide[i : len(wide) - 3 + i] << np.uint32(8 * i) for i in range(4)]
    word: _U32 = byte[0] | byte[1] | byte[2] | byte[3]

    h = np.zeros(len(start), dtype=np.uint32)
    n_blocks = length >> 2
    for block in range(int(n_blocks.max(initial=0))):
        todo = np.flatnonzero(n_blocks > block)
        k = _scramble(word[start[todo] + 4 * block])
        h[todo] = _rotl(h[todo] ^ k, 13) * np.uint32(5) + np.uint32(0xE6546B64)
    # A tail of 0 to 3 bytes; a zero tail scrambles to 0 and leaves h as it is.
    h ^= _scramble(word[start + 4 * n_blocks] & _TAIL_MASK[length & 3])
    h ^= length.astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def _scramble(k: _U32) -> _U32:
    return _rotl(k * _C1, 15) * _C2


def _rotl(x: _U32, r: int) -> _U32:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))
