"""The one lyrics normalizer: applied to dataset lyrics at build time and to any lyrics a user
gives later (`embed` files, `search --text`), so both look alike to a lyrics encoder.

Source lyrics come as sung syllables (LMD: `wan na be start in'`), MusicXML as syllables with
word boundaries, a user's as words (`wanna be startin'`). Both are brought to one form: lower
case, Unicode NFKC, every apostrophe-like mark made `'`, punctuation dropped, and every word
split into syllables, so `wan na` and `wanna` both become `wan na`.

The split must treat a word and its syllables alike (`baby` and `ba by` give the same tokens),
so for English it counts syllables by vowel groups (a final silent `e`, `-es`, `-ed` do not
count; consonant + `le` does), cuts off the suffixes `-thing -ing -ly -ness -ful -less -ment`, places
each remaining cut at pyphen's hyphenation point between the two vowel groups when it offers one
and otherwise before the last consonant (keeping `th ch sh ph wh ck gh` and two-letter onsets
like `br st` together), and turns the dropped g of `startin'` (and LMD's lone syllable `in'`) back into `ing`. A syllable
has one vowel group, so re-splitting a syllable leaves it whole. Other languages use pyphen's
dictionary for the language (German `de`, Italian `it`, ...), or the plain vowel-group rule when
pyphen has none. See docs/datasets.md for the agreement this reaches on real lines.
"""

from __future__ import annotations

import functools
import re
import unicodedata

_APOSTROPHES = str.maketrans({c: "'" for c in "\u2018\u2019\u201b\u02bc\u02b9\u0060\u00b4\u2032"})
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*'?|'[^\W_]+", re.UNICODE)
"""A word: letters/digits, inner apostrophes (`don't`), a trailing one (`startin'`) or a leading
one (`'cause`); everything else (punctuation, `_`, symbols) separates words and is dropped."""

_VOWELS = "aeiouyàáâäæèéêëìíîïòóôöøœùúûüÿ"
_DIGRAPHS = frozenset({"th", "ch", "sh", "ph", "wh", "ck", "gh", "qu", "gu", "wr", "kn"})
_ONSETS = frozenset(
    {
        "bl",
        "br",
        "cl",
        "cr",
        "dr",
        "fl",
        "fr",
        "gl",
        "gr",
        "pl",
        "pr",
        "sc",
        "sk",
        "sl",
        "sm",
        "sn",
        "sp",
        "st",
        "sw",
        "tr",
        "tw",
    }
)
_SUFFIXES = ("thing", "ing", "ly", "ness", "ful", "less", "ment")


@functools.cache
def _hyphenator(language: str):  # noqa: ANN202 - pyphen.Pyphen or None
    import pyphen

    lang = pyphen.language_fallback(language.replace("-", "_"))
    if not lang:
        return None
    # English cut points only guide the vowel-group rule, so allow them next to a word's ends.
    return pyphen.Pyphen(lang=lang, left=1, right=1) if lang.startswith("en") else pyphen.Pyphen(lang=lang)


def _is_vowel(word: str, i: int) -> bool:
    c = word[i]
    if c == "y":  # a vowel after a consonant (`baby`, `my`), a consonant at a start (`yes`)
        return i > 0 and word[i - 1] not in _VOWELS
    if c == "u" and i > 0 and word[i - 1] == "q":
        return False
    return c in _VOWELS


def _vowel_groups(word: str, english: bool) -> list[tuple[int, int]]:
    """(start, end) of every syllable nucleus: runs of vowels, minus English silent endings."""
    groups: list[tuple[int, int]] = []
    i, n = 0, len(word)
    while i < n:
        if _is_vowel(word, i):
            j = i
            while j + 1 < n and word[j] != "y" and _is_vowel(word, j + 1):
                j += 1
            groups.append((i, j + 1))
            i = j + 1
        else:
            i += 1
    if english and len(groups) > 1:
        start = groups[-1][0]
        tail, before = word[start:], word[start - 1]
        consonant_le = n >= 3 and word[-2] == "l" and word[-3] not in _VOWELS
        if tail == "e" and not consonant_le:  # love, time (but lit-tle, ta-ble)
            groups.pop()
        elif tail == "es" and before not in "sxzgc" and not (n >= 4 and word[-3] == "l" and word[-4] not in _VOWELS):
            groups.pop()  # times, loves (but kiss-es, pla-ces)
        elif tail == "ed" and before not in "td":  # loved (but want-ed)
            groups.pop()
    return groups


def _split_by_vowels(word: str, english: bool, hyphen_points: frozenset[int]) -> list[str]:
    groups = _vowel_groups(word, english)
    if len(groups) <= 1:
        return [word]
    cuts: list[int] = []
    for (_, end1), (start2, _) in zip(groups, groups[1:]):
        consonants = word[end1:start2]
        if english and start2 == len(word) - 1 and word.endswith("le") and consonants:
            cut = start2 - 2 if len(consonants) >= 2 else start2 - 1  # lit-tle, ta-ble
        elif not consonants:
            cut = start2
        elif len(consonants) == 1:
            cut = end1
        elif consonants[-2:] in _DIGRAPHS or (len(consonants) > 2 and consonants[-2:] in _ONSETS):
            cut = start2 - 2
        else:
            cut = start2 - 1
        last = cuts[-1] if cuts else 0
        offered = [c for c in hyphen_points if end1 <= c <= start2 and c > last]
        if offered:
            cut = min(offered, key=lambda c: abs(c - cut))
        cuts.append(max(cut, last + 1))
    pieces, prev = [], 0
    for cut in cuts:
        pieces.append(word[prev:cut])
        prev = cut
    pieces.append(word[prev:])
    return [p for p in (piece.strip("'") for piece in pieces) if p]


def _hyphen_points(word: str, language: str) -> frozenset[int]:
    hyph = _hyphenator(language)
    if hyph is None:
        return frozenset()
    return frozenset(p for p in hyph.positions(word) if 0 < p < len(word))


@functools.lru_cache(maxsize=1 << 16)
def syllabify(word: str, language: str = "en") -> tuple[str, ...]:
    """One normalized word (lower case, no punctuation) split into its syllables.

    `syllabify("baby") == ("ba", "by")`; a syllable comes back whole: `syllabify("ba") == ("ba",)`."""
    english = language.lower().startswith("en")
    if english:
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) > len(suffix) + 1:
                stem = word[: -len(suffix)]
                if _vowel_groups(stem, english):
                    if suffix == "ing" and len(stem) >= 3 and stem[-1] == stem[-2] and stem[-1] not in _VOWELS + "ls":
                        return (*syllabify(stem[:-1], language), stem[-1] + suffix)  # get-ting, but kiss-ing
                    return (*syllabify(stem, language), suffix)
        return tuple(_split_by_vowels(word, True, _hyphen_points(word, language)))
    word = word.replace("'", "")  # elisions (German `sel'gen`) hyphenate as one word
    hyph = _hyphenator(language)
    if hyph is None:
        return tuple(_split_by_vowels(word, False, frozenset()))
    return tuple(p for p in hyph.inserted(word, hyphen="-").split("-") if p)


def lyric_words(text: str, language: str = "en") -> list[str]:
    """The words of `text` in normalized spelling: NFKC, lower case, apostrophes unified,
    punctuation dropped, leading/trailing apostrophes removed (English `startin'` -> `starting`)."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    english = language.lower().startswith("en")
    words = []
    for word in _WORD.findall(text):
        if english and word.endswith("in'"):  # g-dropping, also LMD's lone syllable `in'`
            word = word[:-1] + "g"
        word = word.strip("'")
        if word:
            words.append(word)
    return words


def normalize_lyrics(text: str, language: str = "en") -> str:
    """Lower-cased syllables separated by single spaces, e.g. 'Wanna be' -> 'wan na be'."""
    return " ".join(s for word in lyric_words(text, language) for s in syllabify(word, language))


def syllable_count(text: str) -> int:
    """Syllables in normalized lyrics (the count the syllable-count baseline compares)."""
    return len(text.split())
