"""Text normalisation and metadata tokens."""

from __future__ import annotations

import pytest

from moderation.ml.features import (
    CommentInput,
    count_links,
    describe,
    metadata_tokens,
    normalise,
    normalise_with_offsets,
    original_span,
    to_rows,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("evasive", "plain"),
    [
        ("F4ck you", "fuck you"),
        ("b1tch", "bitch"),
        ("id10t", "idiot"),
        ("a$$hole", "asshole"),
        ("sh!t", "shit"),
        ("s1ut", "slut"),
        ("f u c k off", "fuck off"),
        ("f.u.c.k off", "fuck off"),
        ("s-t-u-p-i-d", "stupid"),
        ("fuuuuuck you loserrrr", "fuck you loser"),
        ("yоu іdіоt", "you idiot"),  # Cyrillic о and і
        ("fu\u200bck", "fuck"),  # zero-width space
        ("ｆｕｃｋ", "fuck"),  # full-width letters
        ("𝐟𝐮𝐜𝐤", "fuck"),  # mathematical bold letters
        ("f&#117;ck", "fuck"),  # HTML entity
        ("&lt;b&gt;hi", "<b>hi"),
        ("Café Résumé", "cafe resume"),
        ("v1agra and c1alis", "viagra and cialis"),
    ],
)
def test_evasions_normalise_to_the_plain_form(evasive: str, plain: str) -> None:
    assert normalise(evasive) == plain


@pytest.mark.parametrize(
    "text",
    ["covid19 and mp3 at 4pm", "2026 budget", "mail bob@example.com", "www.example.com", "xxx"],
)
def test_ordinary_tokens_are_left_alone(text: str) -> None:
    assert normalise(text) == text.lower()


@pytest.mark.parametrize(
    "text",
    [
        "F4ck you b1tch &amp; y o u  r  idiot",
        "Ｈｅｌｌｏ wоrld fu\u200bck &#x41;",
        "noooo way sh!t s.t.u.p.i.d",
        "",
        "plain text only",
    ],
)
def test_offset_path_gives_the_same_text_and_valid_offsets(text: str) -> None:
    normalised, offsets = normalise_with_offsets(text)
    assert normalised == normalise(text)
    assert len(offsets) == len(normalised)
    assert all(0 <= o < len(text) for o in offsets)
    assert offsets == sorted(offsets)


def test_count_links_counts_urls_bbcode_and_anchors() -> None:
    text = 'see https://a.example and www.b.example, [url=x]y[/url] <a href="z">z</a> pills.xyz'
    assert count_links(text) == 5
    assert count_links("no links here. Really.") == 0


def test_metadata_tokens_describe_author_email_and_url() -> None:
    tokens = metadata_tokens(
        CommentInput(
            "Great post http://x.example http://y.example http://z.example",
            author="Best SEO Services 2024",
            email="kris83vv@gmail.com",
            url="https://www.cheap-seo.xyz/shop/x",
        )
    ).split()
    assert "links=2+" in tokens
    assert "author_digits" in tokens
    assert "author_w=seo" in tokens
    assert "email_domain=gmail.com" in tokens
    assert "email_digits" in tokens
    assert "url_tld=xyz" in tokens
    assert "url_w=cheap" in tokens


def test_metadata_tokens_for_a_bare_comment() -> None:
    tokens = metadata_tokens(CommentInput("ok")).split()
    assert tokens == ["links=0", "len=10"]


def test_to_rows_shape() -> None:
    rows = to_rows([CommentInput("A"), CommentInput("B", author="x")])
    assert rows.shape == (2, 2)
    assert rows[1, 0] == "b"
    assert to_rows([]).shape == (0, 2)


def test_ascii_controls_normalise_the_same_with_or_without_other_unicode() -> None:
    assert normalise("a\rb é") == "a\rb e"
    assert normalise("a\rb e") == "a\rb e"


@pytest.mark.parametrize(
    ("text", "word"),
    [("you m.o.r.o.n", "m.o.r.o.n"), ("f u c k off", "f u c k"), ("so stupi&#100;", "stupi&#100;")],
)
def test_offsets_cover_the_whole_evasive_word(text: str, word: str) -> None:
    normalised, offsets = normalise_with_offsets(text)
    token = normalised.split()[-1] if word != "f u c k" else "fuck"
    start = normalised.index(token)
    first, last = original_span(offsets, start, start + len(token), len(text))
    assert text[first:last] == word


def test_every_metadata_token_has_a_plain_word_label() -> None:
    comments = [
        CommentInput(
            "CALL NOW +44 7700 900123 or mail deals@example.com, only $99 at http://a.b.xyz",
            "Cheap Pills 24 www.pills.example",
            "pills1987@gmail.com",
            "http://shop.cheap-pills.xyz/buy/now",
        ),
        CommentInput("x" * 2000, "Anna", "anna@example.org", "https://example.org"),
        CommentInput("ok", "", "anna@example.org", "example.org/a"),
    ]
    tokens = {t for c in comments for t in metadata_tokens(c).split()}
    assert len(tokens) > 25  # the comments above exercise most kinds of token
    for token in tokens:
        label = describe(token)
        assert "_" not in label, token
        assert "=" not in label, token
        assert not label.startswith('"'), token  # quoted labels are for words only


@pytest.mark.parametrize(
    ("feature", "label"),
    [
        ("email_digits", "email has many digits"),
        ("author_digits", "name has digits"),
        ("links=0", "no links"),
        ("links=2+", "more than two links"),
        ("len=40", "11 to 40 characters long"),
        ("len=10", "up to 10 characters long"),
        ("len=1200+", "more than 1,200 characters long"),
        ("url_tld=xyz", "website ends in .xyz"),
        ("author_w=pills", 'name contains "pills"'),
        ("idiot", '"idiot"'),
        ("shut up", '"shut up"'),
        ("links=1 | shouting", "one link or mostly capital letters"),
    ],
)
def test_features_are_described_in_plain_words(feature: str, label: str) -> None:
    assert describe(feature) == label
