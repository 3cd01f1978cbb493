"""The sung melody of one voice along the unfolded timeline: tied notes merged, lyrics chosen.

A sounding note is one pitch from its attack to its release: notes tied to the next one of the
same pitch are merged into it (the score's tie is not kept; the builder engraves the merged
duration its own way). In a chord the highest note is the melody. Times are absolute quarter
notes from the start of the unfolded score.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from .parts import LyricSyllables, Measure, NoteEvent, Part

EPS = 1e-6


@dataclass
class SungNote:
    onset: float
    duration: float
    pitch: int
    measure: int
    """Index of the printed measure the note starts in (for time and key signatures)."""
    syllables: LyricSyllables = field(default_factory=list)
    fermata: bool = False
    tie_open: bool = False

    @property
    def end(self) -> float:
        return self.onset + self.duration


def verse_numbers(part: Part) -> list[str]:
    """The lyric numbers used in `part`, in verse order: numerically by the number they contain
    (`"2"`, `"verse2"`), then the others (`"chorus"`) in order of appearance."""
    seen: dict[str, int] = {}
    for m in part.measures:
        for n in m.notes:
            for number in n.lyrics:
                seen.setdefault(number, len(seen))

    def key(number: str) -> tuple[int, int, int]:
        digits = re.findall(r"\d+", number)
        return (0, int(digits[-1]), seen[number]) if digits else (1, 0, seen[number])

    return sorted(seen, key=key)


def lyric_voice(part: Part) -> str | None:
    """The voice that carries most of the part's lyrics."""
    counts = Counter(n.voice for m in part.measures for n in m.notes if n.lyrics)
    return counts.most_common(1)[0][0] if counts else None


def _chosen_lyric(note: NoteEvent, verses: list[str], verse: int, pass_no: int, carried: int) -> LyricSyllables:
    """Verse `verse + pass - 1` on a repeat's later pass when the note has it, else `verse`;
    after a repeated section (`carried`: the passes it was played, less one), the verse its last
    pass sang when the note has no lyric of `verse` (music21's Bach chorales number the lyrics
    of the section after |: A :| 2, as they continue verse 2)."""
    if pass_no > 1:
        candidates = (verse + pass_no - 2, verse - 1)
    else:
        candidates = (verse - 1, verse + carried - 1) if carried else (verse - 1,)
    for index in candidates:
        if 0 <= index < len(verses) and verses[index] in note.lyrics:
            return note.lyrics[verses[index]]
    return []


def sung_notes(part: Part, order: list[tuple[int, int]], voice: str, verse: int) -> tuple[list[SungNote], list[float]]:
    """The voice's sounding notes with their syllables, and each played measure's start time.

    Returns `(notes, starts)`: `starts[k]` is the start (quarters) of `order[k]`."""
    verses = verse_numbers(part)
    notes: list[SungNote] = []
    starts: list[float] = []
    t = 0.0
    carried = 0
    for m_index, pass_no in order:
        m: Measure = part.measures[m_index]
        if pass_no > 1:
            carried = pass_no - 1
        starts.append(t)
        by_onset: dict[float, list[NoteEvent]] = {}
        for ev in m.notes:
            if ev.voice == voice and ev.pitch is not None and ev.duration > 0:
                by_onset.setdefault(round(ev.onset, 6), []).append(ev)
        for onset in sorted(by_onset):
            chord = by_onset[onset]
            top = max(chord, key=lambda e: e.pitch or 0)
            lyric = next((ly for ev in chord if (ly := _chosen_lyric(ev, verses, verse, pass_no, carried))), [])
            start = t + onset
            prev = notes[-1] if notes else None
            if (
                prev is not None
                and prev.tie_open
                and top.tie_stop
                and prev.pitch == top.pitch
                and abs(prev.end - start) < EPS
            ):
                prev.duration += top.duration
                prev.fermata = prev.fermata or top.fermata
                prev.tie_open = top.tie_start
                continue
            notes.append(
                SungNote(
                    onset=start,
                    duration=top.duration,
                    pitch=int(top.pitch or 0),
                    measure=m_index,
                    syllables=list(lyric),
                    fermata=top.fermata,
                    tie_open=top.tie_start,
                )
            )
        t += m.length
    return notes, starts
