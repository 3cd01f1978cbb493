"""The one lyrics normalizer: applied to dataset lyrics at build time and to any lyrics a user
gives later (`embed` files, `search --text`), so both look alike to a lyrics encoder.

Source lyrics come as syllables (`wan na`), a user's as words (`wanna`); both are lower-cased,
stripped of punctuation but apostrophes, and every word is split into syllables by pyphen
(`wanna` -> `wan na`), so the two meet in the same syllable form.
"""

from __future__ import annotations

import functools
import re
import unicodedata

_WORD = re.compile(r"[\w']+", re.UNICODE)


@functools.cache
def _hyphenator(language: str):  # noqa: ANN202 - pyphen.Pyphen
    import pyphen

    return pyphen.Pyphen(lang=language)


def normalize_lyrics(text: str, language: str = "en") -> str:
    """Lower-cased syllables separated by single spaces, e.g. 'Wanna be' -> 'wan na be'."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").lower()
    hyph = _hyphenator(language)
    syllables: list[str] = []
    for word in _WORD.findall(text):
        word = word.strip("'") or word
        syllables += [s for s in hyph.inserted(word, hyphen="-").split("-") if s]
    return " ".join(syllables)


def syllable_count(text: str) -> int:
    """Syllables in normalized lyrics (the count the syllable-count baseline compares)."""
    return len(text.split())
