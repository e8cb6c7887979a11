"""Text normalisation and metadata features shared by training and serving.

Pure functions. The stock pipelines receive the rows built by :func:`to_rows` and never call
back here, so the saved artifacts hold no custom code. Normalisation undoes common evasions:
entities, zero-width characters, homoglyphs, leetspeak, s p a c e d and repeated letters.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np

# Word tokens for the text vectorizer: a word character followed by word characters or
# asterisks, so masked profanity ("f***", "sh*t") stays one token.
TOKEN_PATTERN = r"(?u)\b\w[\w*]+"  # noqa: S105 - a regex, not a secret
_TOKEN_RE = re.compile(TOKEN_PATTERN)

# Look-alike letters from other scripts that NFKC leaves alone. Not taken from a Unicode
# confusables package: confusable-homoglyphs has 27 of these, maps "ӏ" to "i" and lacks the
# lower-case forms that pass for Latin letters (в к м н т, β ε η κ τ χ ω); confusables is a
# two-way similarity map (242 letters map to several ASCII letters); neither maps ß to "ss"
# or þ to "th".
_HOMOGLYPHS = {
    # Cyrillic
    "а": "a",
    "в": "b",
    "е": "e",
    "ё": "e",
    "к": "k",
    "м": "m",
    "н": "h",
    "о": "o",
    "р": "p",
    "с": "c",
    "т": "t",
    "у": "y",
    "х": "x",
    "ѕ": "s",
    "і": "i",
    "ї": "i",
    "ј": "j",
    "ԁ": "d",
    "ɡ": "g",
    "һ": "h",
    "ӏ": "l",
    "ԛ": "q",
    "ԝ": "w",
    # Greek
    "α": "a",
    "β": "b",
    "ε": "e",
    "η": "n",
    "ι": "i",
    "κ": "k",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "ω": "w",
    "ϲ": "c",
    # Latin look-alikes
    "ı": "i",
    "ɑ": "a",
    "ℓ": "l",
    "ø": "o",
    "ß": "ss",
    "æ": "ae",
    "œ": "oe",
    "đ": "d",
    "ł": "l",
    "þ": "th",
}
# Zero-width and invisible formatting characters used to split words.
_INVISIBLE = {
    "\u00ad",
    "\u034f",
    "\u061c",
    "\u115f",
    "\u1160",
    "\u17b4",
    "\u17b5",
    "\u180e",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u200e",
    "\u200f",
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2060",
    "\u2061",
    "\u2062",
    "\u2063",
    "\u2064",
    "\u206a",
    "\u206b",
    "\u206c",
    "\u206d",
    "\u206e",
    "\u206f",
    "\ufeff",
    "\u3164",
    "\uffa0",
}


# Entries the character table keeps: every script people write in fits many times over; past
# this a text made of rare code points is mapped character by character, without filling
# memory.
_CHAR_TABLE_MAX = 100_000


class _CharTable(dict[int, str]):
    """``str.translate`` table computed lazily: NFKC, no diacritics, homoglyphs, lower case."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if code < 128:  # exactly what the ASCII fast path does
            out = char.lower()
        elif char in _INVISIBLE:
            out = ""
        else:
            decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", char))
            out = "".join(
                _HOMOGLYPHS.get(c, c)
                for c in decomposed.lower()
                if not unicodedata.combining(c) and c not in _INVISIBLE
            )
            # Control characters (C1) become spaces.
            if len(out) == 1 and unicodedata.category(out) == "Cc":
                out = " "
        if len(self) < _CHAR_TABLE_MAX:
            self[code] = out
        return out


_CHAR_TABLE = _CharTable()

_ENTITY_RE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_LEET = {"4": "a", "3": "e", "1": "i", "!": "i", "0": "o", "$": "s", "5": "s", "7": "t"}
# Characters that stand for another letter too; a word is mapped to the alternative only when
# that spells a word of _LEET_WORDS ("f4ck" is "fuck", not "fack"; "s1ut" is "slut").
_LEET_ALTERNATIVES = {"4": "au", "1": "il", "!": "il"}
_LEET_WORDS = frozenset(
    [
        "fuck",
        "fucks",
        "fucking",
        "fucked",
        "fucker",
        "fuckers",
        "motherfucker",
        "cunt",
        "cunts",
        "slut",
        "sluts",
        "suck",
        "sucks",
        "sucker",
        "cocksucker",
        "dumb",
        "dumbass",
        "scum",
        "scumbag",
        "pussy",
        "butt",
        "nuts",
        "bullshit",
        "bloody",
        "clown",
        "clowns",
        "fool",
        "fools",
        "loser",
        "losers",
        "ugly",
        "useless",
        "lunatic",
        "pedo",
        "pedophile",
    ]
)
# A whole run of letters and leet characters that holds at least one leet character; the
# callback maps those between letters ("f4ck", "id10t", "a$$hole", "sh!t"). The lookbehind
# makes the run start at its first character only, and the possessive quantifiers never give
# characters back, so the scan is linear (a run that fails is never rescanned from inside).
_LEET_RE = re.compile(r"(?<![a-z43105$!7])[a-z]*+[43105$!7][a-z43105$!7]*+")
_LEET_INNER_RE = re.compile(r"(?<=[a-z])[43105$!7]+(?=[a-z])")


def _leet_default(match: re.Match[str]) -> str:
    return "".join(_LEET[c] for c in match.group())


def _deleet(match: re.Match[str]) -> str:
    word = match.group()
    plain = _LEET_INNER_RE.sub(_leet_default, word)
    # Positions where an ambiguous leet character was mapped (edge digits stay as typed).
    ambiguous = [i for i, c in enumerate(word) if c in _LEET_ALTERNATIVES and plain[i] != c]
    if not ambiguous or len(ambiguous) > 4:
        return plain
    candidates = [plain]
    for i in ambiguous:
        alternatives = _LEET_ALTERNATIVES[word[i]]
        candidates = [c[:i] + alt + c[i + 1 :] for c in candidates for alt in alternatives]
    return next((c for c in candidates if c in _LEET_WORDS), plain)


# Three or more single letters with the same separator between them (one or two spaces, dots,
# dashes or underscores): "f u c k", "m.o.r.o.n", "s - t - u - p - i - d". Kept linear: each
# letter must stand alone (followed by the separator or by no word character), the possessive
# repetition takes the whole run or nothing, and a run never starts on a letter that an
# earlier single letter's run with the same separator already covers (that run failed, so
# this one would end where it did and fail too). Only separators ending in a space need that
# check: after ".", "-" or "_" the first lookbehind already refuses to start.
_SPACE_ENDED_SEPARATORS = (" ", "  ", ". ", "- ", "_ ")
_INSIDE_A_RUN = "|".join(
    rf"(?<=(?<![\w.\-])[a-z]{re.escape(sep)})[a-z]{re.escape(sep)}[a-z]"
    rf"(?={re.escape(sep)}|\W|$)"
    for sep in _SPACE_ENDED_SEPARATORS
)
_SPACED_RE = re.compile(
    rf"(?<![\w.\-])(?!{_INSIDE_A_RUN})"
    r"[a-z](?P<sep>[ .\-_]{1,2})[a-z](?=(?P=sep)|\W|$)(?:(?P=sep)[a-z](?=(?P=sep)|\W|$))++"
    r"(?!\w|[ .\-_]{1,2}[a-z]\b)"
)
_SPACED_SEP_RE = re.compile(r"[ .\-_]")
# The same letter three or more times ("fuuuck", "loserrrr"); w and x runs are kept (www, xxx).
_REPEAT_RE = re.compile(r"([a-vyz])\1{2,}")


def _decode_entity(match: re.Match[str]) -> str:
    return html.unescape(match.group()).translate(_CHAR_TABLE)


def _join_spaced(match: re.Match[str]) -> str:
    # Dotted abbreviations ("e.g.", "u.s.a") are joined too; that is harmless.
    return _SPACED_SEP_RE.sub("", match.group())


def _collapse(match: re.Match[str]) -> str:
    return match.group(1)


_STEPS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (_LEET_RE, _deleet),
    (_SPACED_RE, _join_spaced),
    (_REPEAT_RE, _collapse),
)


def normalise(text: str) -> str:
    """Return the canonical form of ``text`` that the text vectorizers see."""
    if "&" in text:
        text = _ENTITY_RE.sub(_decode_entity, text)
    text = text.lower() if text.isascii() else text.translate(_CHAR_TABLE)
    for pattern, repl in _STEPS:
        text = pattern.sub(repl, text)
    return text


def _sub_with_offsets(
    pattern: re.Pattern[str],
    repl: Callable[[re.Match[str]], str],
    text: str,
    offsets: list[int],
) -> tuple[str, list[int]]:
    """Apply ``pattern.sub(repl, text)`` and carry each output character's source offset."""
    out: list[str] = []
    out_offsets: list[int] = []
    pos = 0
    for match in pattern.finditer(text):
        out.append(text[pos : match.start()])
        out_offsets.extend(offsets[pos : match.start()])
        replacement = repl(match)
        out.append(replacement)
        start, end = match.start(), match.end()
        # Spread the replacement over the source span it came from, first character to first,
        # last to last, so a highlighted word covers all of what the commenter typed.
        last = max(end - start - 1, 0)
        steps = max(len(replacement) - 1, 1)
        out_offsets.extend(
            offsets[start + round(i * last / steps)] for i in range(len(replacement))
        )
        pos = end
    out.append(text[pos:])
    out_offsets.extend(offsets[pos:])
    return "".join(out), out_offsets


def normalise_with_offsets(text: str) -> tuple[str, list[int]]:
    """Like :func:`normalise`, also returning, per output character, its index in ``text``
    (highlighted n-grams map back to what the commenter typed). Keep the two in step."""
    offsets = list(range(len(text)))
    # The entity step and the character table run on the original text; all later steps
    # run on their output, exactly as in normalise().
    if "&" in text:
        text, offsets = _sub_with_offsets(_ENTITY_RE, _decode_entity, text, offsets)
        # _decode_entity already applied the table to decoded entities; applying it again to
        # their (lower-case, table-mapped) output is a no-op.
    chars: list[str] = []
    char_offsets: list[int] = []
    for char, offset in zip(text, offsets, strict=True):
        mapped = char.lower() if char.isascii() else char.translate(_CHAR_TABLE)
        chars.append(mapped)
        char_offsets.extend([offset] * len(mapped))
    text, offsets = "".join(chars), char_offsets
    for pattern, repl in _STEPS:
        text, offsets = _sub_with_offsets(pattern, repl, text, offsets)
    return text, offsets


def original_span(offsets: list[int], start: int, end: int, length: int) -> tuple[int, int]:
    """The span of the original text that ``normalised[start:end]`` came from.

    It runs up to where the next normalised character came from, so a word whose last letter
    was written as several characters ("stupi&#100;", "m.o.r.o.n") is covered whole.
    """
    after = offsets[end] if end < len(offsets) else length
    return offsets[start], max(offsets[end - 1] + 1, after)


def tokens_with_spans(normalised: str) -> list[tuple[str, int, int]]:
    """Word tokens of a normalised text as the text vectorizer sees them, with their spans."""
    return [(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(normalised)]


# ---------------------------------------------------------------------------------------
# Metadata tokens
# ---------------------------------------------------------------------------------------

# A bare domain starts where no label character precedes it and takes its label possessively,
# so a long run of label characters is scanned once, not once from each of its hyphens.
_LINK_RE = re.compile(
    r"(?:https?://|www\.|\[url|<a\s)|(?<![a-z0-9-])\b[a-z0-9][a-z0-9-]++\.(?:com|net|org|info|biz|xyz|top|"
    r"online|site|shop|store|club|ru|in|io|co|me|ly|us|uk|de|cn|pro|link|click|live|app|"
    r"icu|vip|win|bet|casino|loan|pw|tk|ml|ga|cf|gq)\b(?:/\S*)?",
    re.IGNORECASE,
)
_PHONE_RE = re.compile(r"(?:\+|\b)\d[\d\s().-]{7,}\d\b")
# Only searched for (is there an address?), so one character before the "@" is enough; a
# leading run of [\w.+-]+ would rescan the whole run from every one of its characters.
_EMAIL_IN_TEXT_RE = re.compile(r"[\w.+-]@[\w-]+\.[\w.-]")
_MONEY_RE = re.compile(r"[$€£]\s?\d|\d\s?(?:usd|eur|gbp|dollars|bitcoin|btc)\b", re.IGNORECASE)
_WORD_RE = re.compile(r"[a-z]+")
_DIGIT_RE = re.compile(r"\d")
_FREE_MAIL = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "mail.com",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "zoho.com",
        "web.de",
        "hotmail.co.uk",
        "yahoo.co.uk",
        "btinternet.com",
    ]
)


@dataclass(frozen=True, slots=True)
class CommentInput:
    """The fields of a comment that the models score."""

    content: str
    author: str = ""
    email: str = ""
    url: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> CommentInput:
        """Build from a dict with ``content`` and optional ``author``, ``email``, ``url``."""

        def text(key: str) -> str:
            value = data.get(key)
            return "" if value is None else str(value)

        return cls(text("content"), text("author"), text("email"), text("url"))


def count_links(content: str) -> int:
    """Number of links, bare domains, BBCode ``[url]`` and HTML anchors in a comment."""
    return len(_LINK_RE.findall(content))


def _bucket(value: int, edges: tuple[int, ...]) -> str:
    for edge in edges:
        if value <= edge:
            return str(edge)
    return f"{edges[-1]}+"


def _domain(url: str) -> str:
    url = url.strip().lower()
    if not url:
        return ""
    if "://" not in url:
        url = "http://" + url
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


_ASCII_NOT_LETTERS = bytes(c for c in range(128) if not chr(c).isalpha())
_ASCII_NOT_CAPITALS = bytes(c for c in range(128) if not chr(c).isupper())


def _letters_and_capitals(text: str) -> tuple[int, int]:
    """How many letters, and how many capital letters, ``text`` holds."""
    if text.isascii():  # most comments: counted in C
        raw = text.encode("ascii")
        return len(raw.translate(None, _ASCII_NOT_LETTERS)), len(
            raw.translate(None, _ASCII_NOT_CAPITALS)
        )
    return sum(map(str.isalpha, text)), sum(map(str.isupper, text))


def metadata_tokens(comment: CommentInput) -> str:
    """Space-separated tokens describing the comment's metadata, for the metadata vectorizer.

    Each token is readable in an explanation (``url_tld=xyz``, ``links=3+``).
    """
    tokens: list[str] = []
    tokens.append(f"links={_bucket(count_links(comment.content), (0, 1, 2))}")
    tokens.append(f"len={_bucket(len(comment.content), (10, 40, 120, 400, 1200))}")
    content = scored_part(comment.content)
    letters, upper = _letters_and_capitals(content)
    if letters >= 12 and upper > 0.5 * letters:
        tokens.append("shouting")
    if _PHONE_RE.search(content):
        tokens.append("phone_in_text")
    if _EMAIL_IN_TEXT_RE.search(content):
        tokens.append("email_in_text")
    if _MONEY_RE.search(content):
        tokens.append("money_in_text")

    # A missing field adds no token: the public data sets lack these fields altogether, and
    # their absence would otherwise say which data set a comment resembles, not what it is.
    author = normalise(comment.author.strip())
    if author:
        words = _WORD_RE.findall(author)
        if _DIGIT_RE.search(comment.author):
            tokens.append("author_digits")
        if count_links(comment.author):
            tokens.append("author_is_link")
        tokens.extend(f"author_w={w}" for w in words[:6] if len(w) > 2)

    email = comment.email.strip().lower()
    if email:
        local, _, email_domain = email.rpartition("@")
        if email_domain in _FREE_MAIL:
            tokens.append(f"email_domain={email_domain}")
        else:
            tokens.append("email_domain=other")
        tokens.append(f"email_tld={email_domain.rsplit('.', 1)[-1]}")
        if len(_DIGIT_RE.findall(local)) >= 2:
            tokens.append("email_digits")

    url_domain = _domain(comment.url)
    if url_domain:
        tokens.append("url=present")
        tokens.append(f"url_tld={url_domain.rsplit('.', 1)[-1]}")
        if url_domain.count(".") >= 2:
            tokens.append("url_subdomain")
        path = comment.url.split(url_domain, 1)[-1].strip("/")
        if path:
            tokens.append(f"url_path_depth={_bucket(path.count('/') + 1, (1, 2))}")
        domain_words = _WORD_RE.findall(normalise(url_domain.rsplit(".", 1)[0]))
        tokens.extend(f"url_w={w}" for w in domain_words[:6] if len(w) > 2)
        if email and email.endswith("@" + url_domain):
            tokens.append("email_matches_url")
    return " ".join(tokens)


# ---------------------------------------------------------------------------------------
# Explanations in plain words
# ---------------------------------------------------------------------------------------

# Words that carry no meaning alone: a moderator learns nothing from "is", "to" or "again"
# being highlighted, even when the model learnt a weight for them (they mostly say which
# data set a comment resembles). scikit-learn's English list without its content words
# ("fire", "bill", "call", "system", ...), plus the pieces the tokenizer cuts contractions
# into ("don", "isn", "ll", "ve") and common fillers. An n-gram made of these words only is
# never shown; a pair with one real word ("shut up", "complete idiot") is.
_STOP_WORDS = """
    a about above across after afterwards again against all almost alone along already also
    although always am among amongst an and another any anyhow anyone anything anyway anywhere
    are around as at back be became because become becomes becoming been before beforehand
    behind being below beside besides between beyond both but by can cannot cant could couldnt
    do done down due during each eg eight either eleven else elsewhere enough etc even ever
    every everyone everything everywhere except few fifteen fifty first five for former
    formerly forty four from further get give go had has hasnt have he hence her here
    hereafter hereby herein hereupon hers herself him himself his how however hundred i ie if
    in inc indeed into is it its itself keep last latter latterly least less ltd made many may
    me meanwhile might mine more moreover most mostly much must my myself namely neither never
    nevertheless next nine no nobody none noone nor not nothing now nowhere of off often on
    once one only onto or other others otherwise our ours ourselves out over own per perhaps
    please put rather re same see seem seemed seeming seems several she should since six sixty
    so some somehow someone something sometime sometimes somewhere still such take ten than
    that the their them themselves then thence there thereafter thereby therefore therein
    thereupon these they third this those though three through throughout thru thus to
    together too toward towards twelve twenty two un under until up upon us very via was we
    well were what whatever when whence whenever where whereafter whereas whereby wherein
    whereupon wherever whether which while whither who whoever whole whom whose why will with
    within without would yet you your yours yourself yourselves
    ain aren couldn didn doesn don hadn hasn haven isn ll mustn needn shan shouldn ve wasn
    weren won wouldn
    did does doing dont doesnt didnt got going gonna having im ive isnt its just lets oh ok
    okay really thats theres u ur ya yall yeah yes youre
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())


def only_stop_words(ngram: str) -> bool:
    """True when every word of a word or word pair is a stop word (nothing to show alone)."""
    return all(word in STOP_WORDS for word in ngram.split())


def _bucket_label(value: str, edges: tuple[int, ...], unit: str) -> str:
    """A :func:`_bucket` value in words: "up to 10", "11 to 40", "more than 1,200"."""
    if value.endswith("+"):
        return f"more than {edges[-1]:,} {unit}"
    top = int(value)
    below = [edge for edge in edges if edge < top]
    if not below:
        return f"up to {top:,} {unit}" if top else f"no {unit}"
    return f"{below[-1] + 1:,} to {top:,} {unit}"


_FLAG_LABELS = {
    "shouting": "mostly capital letters",
    "phone_in_text": "a phone number in the text",
    "email_in_text": "an email address in the text",
    "money_in_text": "a sum of money in the text",
    "author_digits": "name has digits",
    "author_is_link": "name is a web address",
    "email_domain=other": "email not at a free mail service",
    "email_digits": "email has many digits",
    "url=present": "gives a website",
    "url_subdomain": "website on a subdomain",
    "email_matches_url": "email at the website's domain",
}
_VALUE_LABELS: dict[str, Callable[[str], str]] = {
    "links": lambda v: {"0": "no links", "1": "one link", "2": "two links"}.get(
        v, "more than two links"
    ),
    "len": lambda v: _bucket_label(v, (10, 40, 120, 400, 1200), "characters long"),
    "author_w": lambda v: f'name contains "{v}"',
    "email_domain": lambda v: f"email at {v}",
    "email_tld": lambda v: f"email ends in .{v}",
    "url_tld": lambda v: f"website ends in .{v}",
    "url_path_depth": lambda v: "website address points inside a site",
    "url_w": lambda v: f'website name contains "{v}"',
}


def describe(feature: str) -> str:
    """A feature of an explanation in plain words, for moderators.

    Metadata tokens become phrases ("email_digits" is "email has many digits"); a word or
    word pair is quoted as the model read it ("idiot" for "id10t"). Several features that
    share a hash (``"a | b"``) are joined with "or".
    """
    if " | " in feature:
        return " or ".join(describe(part) for part in feature.split(" | "))
    if feature in _FLAG_LABELS:
        return _FLAG_LABELS[feature]
    key, sep, value = feature.partition("=")
    if sep and key in _VALUE_LABELS:
        return _VALUE_LABELS[key](value)
    return f'"{feature}"'


# Words that address the reader of a reply: a comment with one of them (or an @name) is aimed
# at someone. Read on the normalised text, so "y0u" and "ur" count.
_ADDRESS_RE = re.compile(
    r"\b(?:you|your|yours|youre|yourself|yourselves|ya|yer|u|ur|yall)\b|(?<![\w@])@\w"
)


def addresses_someone(content: str) -> bool:
    """True when a comment speaks to someone (you, your, @name), not only about things.

    The abuse head cannot tell "the trains are fucking late" from an insult aimed at a
    person; refusing only what is aimed at someone keeps profanity at the weather in review.
    """
    return _ADDRESS_RE.search(normalise(scored_part(content))) is not None


# Scoring reads at most this many characters of a comment (rules such as the link count and
# banned words still read all of it). Training comments are ~550 characters at the 99.9th
# percentile; past a few thousand, more text no longer moves a linear model's score, and the
# cap bounds the time a 64 KB comment can cost (benchmarks/bench_adversarial.py).
MAX_SCORED_CHARS = 5000


def scored_part(content: str) -> str:
    """The part of a comment's text that the models read (and explanations point into)."""
    return content[:MAX_SCORED_CHARS]


# Columns of the rows that the pipelines take.
TEXT_COLUMN = 0
META_COLUMN = 1


def to_rows(comments: Iterable[CommentInput]) -> np.ndarray[Any, np.dtype[np.object_]]:
    """Build the 2-column object array ``[normalised text, metadata tokens]`` for the pipelines."""
    rows = [(normalise(scored_part(c.content)), metadata_tokens(c)) for c in comments]
    array = np.empty((len(rows), 2), dtype=object)
    if rows:
        array[:] = rows
    return array
