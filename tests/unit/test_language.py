"""Language detection: only a reliable detection of an unsupported language counts."""

from __future__ import annotations

import pytest

from moderation.ml.language import UNDETERMINED, detect

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Das ist ein sehr guter Artikel, danke für die ausführlichen Informationen.", "de"),
        ("C'est complètement faux, le gouvernement ment depuis le début de l'affaire.", "fr"),
        ("Esto es una vergüenza, los políticos no hacen nada por la gente del pueblo.", "es"),
        ("Это полная ерунда, никто в нашем городе в это не верит.", "ru"),
        ("这篇文章写得很好，我很喜欢，谢谢你们分享这些重要的信息。", "zh"),
    ],
)
def test_other_languages_are_detected_as_unsupported(text: str, code: str) -> None:
    detection = detect(text)
    assert detection.code == code
    assert not detection.supported


@pytest.mark.parametrize(
    "text",
    [
        "I disagree with the minister, but the article is a fair summary of the vote.",
        "Ok lol",
        "+1",
        "Danke!",  # too short to tell: scored as English, never sent away
        "lol u wot m8, thats mental innit",
        "The motto was 'Wir schaffen das', and the English part of this reply is much longer "
        "than the German quotation it discusses, so the reply is English.",
    ],
)
def test_english_and_short_texts_are_supported(text: str) -> None:
    assert detect(text).supported


def test_text_cld2_cannot_read_is_undetermined_not_an_error() -> None:
    assert detect("a\x00b\x07c" * 20).code in (UNDETERMINED, "en")
    assert detect("").code == UNDETERMINED
    assert detect("😂" * 50).supported


def test_html_entities_are_read_as_the_letters_they_stand_for() -> None:
    spanish = "Conoc&#237; tus ojos negros y ahora s&#237; que no puedo vivir sin ellos, mi amor"
    assert detect(spanish).code == "es"
