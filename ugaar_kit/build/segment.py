"""Cutting a song into the passages that become triplets: its lyric lines, or windows of N
syllables; and the key that marks verbatim repeats (choruses) inside a song."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

from ugaar_kit.interfaces.score import Note, Passage, Song, Syllable


def join_lines(passages: list[Passage]) -> Passage:
    """The song's lines end to end as one passage (the rest between two lines is not kept by a
    `Passage`, so each line starts where the previous one's last note ends)."""
    notes: list[Note] = []
    syllables: list[Syllable] = []
    beat = second = 0.0
    seconds = all(n.onset_s is not None and n.duration_s is not None for p in passages for n in p.notes)
    for p in passages:
        if not p.notes:
            continue
        o_b, o_s = p.notes[0].onset, p.notes[0].onset_s or 0.0
        base = len(notes)
        for n in p.notes:
            notes.append(
                replace(
                    n,
                    onset=beat + n.onset - o_b,
                    onset_s=second + float(n.onset_s) - o_s if seconds else None,  # type: ignore[arg-type]
                    duration_s=n.duration_s if seconds else None,
                )
            )
        syllables += [replace(s, note=s.note + base) for s in p.syllables]
        beat = max(n.onset + n.duration for n in notes)
        if seconds:
            second = max(float(n.onset_s) + float(n.duration_s) for n in notes)  # type: ignore[arg-type]
    first = passages[0]
    return Passage(notes, syllables, first.time_signature, first.key_fifths, first.tempo_bpm)


def windows(song: Song, size: int) -> list[Passage]:
    """Consecutive windows of `size` syllables over the whole song (the last may be shorter);
    each holds the notes from its first syllable's note up to the next window's first note."""
    whole = join_lines(song.passages)
    if not whole.syllables:
        return []
    out = []
    syls = whole.syllables
    for start in range(0, len(syls), size):
        chunk = syls[start : start + size]
        first = chunk[0].note
        last = syls[start + size].note if start + size < len(syls) else len(whole.notes)
        if last <= first:
            continue
        notes = whole.notes[first:last]
        out.append(
            Passage(
                list(notes),
                [replace(s, note=s.note - first) for s in chunk],
                whole.time_signature,
                whole.key_fifths,
                whole.tempo_bpm,
            )
        )
    return out


def segment(song: Song, mode: str = "line", window: int = 8, lines: int = 1) -> list[Passage]:
    """The passages of `song`: its lines as the source gives them (`line`), `lines` consecutive
    lines at a time (joined end to end, see `join_lines`; the last group may be shorter), or
    `window`s."""
    if mode == "line":
        kept = [p for p in song.passages if p.notes]
        if lines == 1:
            return kept
        return [join_lines(kept[i : i + lines]) for i in range(0, len(kept), lines)]
    if mode == "window":
        return windows(song, window)
    raise ValueError(f"unknown segmentation '{mode}' (known: line, window)")


def repeat_key(passage: Passage) -> str:
    """Equal for two passages with the same syllables and the same notes (pitches and beat
    timing relative to the first note): a verbatim repeat such as a chorus."""
    origin = passage.notes[0].onset if passage.notes else 0.0
    data = [
        [s.text.lower() for s in passage.syllables],
        [s.note for s in passage.syllables],
        [[n.pitch, round(n.onset - origin, 4), round(n.duration, 4)] for n in passage.notes],
    ]
    return hashlib.sha1(json.dumps(data).encode()).hexdigest()
