"""Which language a comment is written in, with Google's Compact Language Detector 2 (pycld2).

The models are trained on English only; a comment in another language would be scored as if it
were English, which means nothing. CLD2 answers in microseconds and says when it is not sure
(short texts, "ok", "+1", "lol"): only a reliable detection of a language the models do not
support makes a comment unsupported, so short English replies are never sent away.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import pycld2

from moderation.ml.features import scored_part

# English, and Scots, which CLD2 reports for many short or informal English texts.
SUPPORTED = frozenset({"en", "sco"})
UNDETERMINED = "und"
# A comment is unsupported when a reliable detection gives the supported languages less than
# this share of its text: a German quotation inside an English reply stays English.
MIN_SUPPORTED_PERCENT = 25
# Below this many letters a detection is never trusted ("Oh ok no prob.." is not Danish).
MIN_LETTERS = 20

# CLD2 refuses control characters; they carry no language.
_CONTROLS = {
    c: " " for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]
}


@dataclass(frozen=True, slots=True)
class Detection:
    """The main language of a text (an ISO 639-1 code, or ``und``) and how sure CLD2 is."""

    code: str
    reliable: bool
    supported_percent: int

    @property
    def supported(self) -> bool:
        """False only when the text is reliably in a language the models were not trained on."""
        return not self.reliable or self.supported_percent >= MIN_SUPPORTED_PERCENT


def detect(text: str) -> Detection:
    """Detect the language of the part of ``text`` that the models read."""
    sample = html.unescape(scored_part(text)).translate(_CONTROLS)
    if sum(c.isalpha() for c in sample) < MIN_LETTERS:
        return Detection(UNDETERMINED, False, 0)
    try:
        reliable, _, details = pycld2.detect(sample)
    except pycld2.error:  # text CLD2 cannot read (e.g. lone surrogates) says nothing
        return Detection(UNDETERMINED, False, 0)
    code = details[0][1] if details and details[0][1] not in ("un", "xxx") else UNDETERMINED
    supported = sum(percent for _, lang, percent, _ in details if lang in SUPPORTED)
    return Detection(
        code.split("-", 1)[0].lower() if code != UNDETERMINED else code,
        bool(reliable) and code != UNDETERMINED,
        int(supported),
    )
