"""The symbolic model a score source yields and the dataset builder consumes: songs of passages.

A passage is what becomes one triplet: its notes (engraved as the sheet image, synthesized as the
audio) and its syllables (kept as the lyrics). Times are relative to the passage's first note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Note:
    """One melody note. `onset`/`duration` in beats (quarter notes); `*_s` in seconds when the
    source has real timing (LMD keeps the MIDI file's seconds), else None (a stated tempo applies)."""

    pitch: int
    onset: float
    duration: float
    onset_s: float | None = None
    duration_s: float | None = None
    tie_next: bool = False


@dataclass(frozen=True)
class Syllable:
    """One lyric syllable sung from note index `note` on. `word_end` is False for a syllable
    that continues into the next one of the same word (`wan` in `wan na`)."""

    text: str
    note: int
    word_end: bool = True


@dataclass
class Passage:
    """A stretch of melody with its lyrics: a lyric line by default."""

    notes: list[Note]
    syllables: list[Syllable]
    time_signature: tuple[int, int] = (4, 4)
    key_fifths: int = 0
    tempo_bpm: float | None = None

    @property
    def lyrics(self) -> str:
        """The syllables joined into words: syllables of one word without a space."""
        out: list[str] = []
        for syl in self.syllables:
            out.append(syl.text)
            if syl.word_end:
                out.append(" ")
        return "".join(out).strip()


@dataclass
class Song:
    """A song from a score source: an id unique in its source, its passages and metadata."""

    id: str
    passages: list[Passage]
    title: str | None = None
    source: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
