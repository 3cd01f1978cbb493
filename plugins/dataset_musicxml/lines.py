"""Cutting a sung melody into lyric lines, each of which becomes one passage.

A line ends after a syllable when
1. the next syllable starts after a rest of at least `min_rest_beats` quarter notes, or
2. the syllable's last note has a fermata (a chorale's phrase end), or
3. the syllable ends with phrase punctuation (`, ; : . ! ?`) and the line has at least
   `min_punctuation_syllables` syllables (so "Oh," alone is not a line), or
4. the line reached `max_syllables`: it is then cut at a word end in its second half, preferring
   one with phrase punctuation or before a capitalised word (a poem's line), then the one followed
   by the longest note plus rest (a phrase ends on a long note); the syllables after the cut start the next line. A single word longer
   than the limit is cut where the limit falls.
A syllable's notes are the note it starts on and the following notes without lyrics (a melisma),
up to a rest of `min_rest_beats` or the next syllable. Notes without lyrics after such a rest are
not sung words (an instrumental stretch in the voice) and belong to no line.
"""

from __future__ import annotations

from dataclasses import dataclass

from .melody import EPS, SungNote

_PHRASE_END = ",;:.!?\u2026\u3002"
_CLOSERS = "\"')]\u201d\u2019\u00bb"


@dataclass(frozen=True)
class SungSyllable:
    text: str
    word_end: bool
    first: int
    """Index of the note the syllable starts on."""
    last: int
    """Index of its last note (the end of a melisma)."""


@dataclass(frozen=True)
class LineRule:
    max_syllables: int = 10
    min_rest_beats: float = 1.0
    min_punctuation_syllables: int = 3
    break_at_fermata: bool = True


def _ends_phrase(text: str) -> bool:
    return text.rstrip(_CLOSERS).endswith(tuple(_PHRASE_END))


def syllables_of(notes: list[SungNote], min_rest_beats: float) -> list[SungSyllable]:
    """Every syllable with the notes it is sung on."""
    out: list[SungSyllable] = []
    i = 0
    while i < len(notes):
        note = notes[i]
        if not note.syllables:
            i += 1
            continue
        last = i
        while (
            last + 1 < len(notes)
            and not notes[last + 1].syllables
            and notes[last + 1].onset - notes[last].end < min_rest_beats - EPS
        ):
            last += 1
        for k, (syllabic, text) in enumerate(note.syllables):
            elided = k + 1 < len(note.syllables)
            word_end = elided or syllabic in ("single", "end")
            out.append(SungSyllable(text, word_end, i, last))
        i = last + 1
    return out


def _starts_verse_line(text: str) -> bool:
    """A capitalised word other than `I` (`Who`, `And`): poems start each line so."""
    word = text.lstrip("\"'(\u201c\u2018\u00bf\u00a1")
    return bool(word) and word[0].isupper() and not (word == "I" or word.startswith(("I'", "I\u2019")))


def _best_cut(line: list[SungSyllable], notes: list[SungNote], following: SungSyllable | None) -> int:
    """How many syllables of an over-long `line` to keep (see rule 4 of the module docstring)."""

    def strength(j: int) -> tuple[bool, float]:
        syl = line[j]
        nxt = line[j + 1] if j + 1 < len(line) else following
        last = notes[syl.last]
        gap = notes[nxt.first].onset - last.end if nxt is not None else 0.0
        verse_line = nxt is not None and _starts_verse_line(nxt.text)
        return (_ends_phrase(syl.text) or verse_line, last.duration + max(gap, 0.0))

    candidates = [j for j in range(len(line) // 2 - 1, len(line)) if line[j].word_end]
    if not candidates:
        return len(line)
    return max(candidates, key=lambda j: (strength(j), j)) + 1


def split_lines(notes: list[SungNote], rule: LineRule) -> list[list[SungSyllable]]:
    """The syllables grouped into lines by `rule` (see the module docstring)."""
    lines: list[list[SungSyllable]] = []
    line: list[SungSyllable] = []
    syllables = syllables_of(notes, rule.min_rest_beats)
    for k, syl in enumerate(syllables):
        line.append(syl)
        nxt = syllables[k + 1] if k + 1 < len(syllables) else None
        end_here = nxt is None
        if nxt is not None and nxt.first != syl.first:
            gap = notes[nxt.first].onset - notes[syl.last].end
            end_here = gap >= rule.min_rest_beats - EPS
        if rule.break_at_fermata and notes[syl.last].fermata and (nxt is None or nxt.first != syl.first):
            end_here = True
        if _ends_phrase(syl.text) and syl.word_end and len(line) >= rule.min_punctuation_syllables:
            end_here = True
        if end_here:
            lines.append(line)
            line = []
        elif len(line) >= rule.max_syllables:
            cut = _best_cut(line, notes, syllables[k + 1] if k + 1 < len(syllables) else None)
            lines.append(line[:cut])
            line = line[cut:]
    if line:
        lines.append(line)
    return lines
