"""The `lmd-lyrics` score source: the LMD lyrics-melody arrays of Yu et al. (arXiv 1908.05551).

One `.npy` per song, an object array `a` of shape (1, 3); `a[0]` holds three lists with one
entry per lyric line (see the data README):

- `a[0][0][i]`: `[t, duration_s, frequency_hz, velocity]` per note, `t` the seconds since the
  previous note's onset (the line's first `t` counts from the previous line's last note);
- `a[0][1][i]`: `[midi_pitch, duration_beats, rest_beats]` per syllable, the rest before it;
- `a[0][2][i]`: the syllables.

Checked over the 1,500 songs of the shared sample: the three lists of every line have one entry
per syllable (401,639 notes), and `69 + 12 log2(f / 440)` equals `midi_pitch` for every note, so
`a[0][0]` and `a[0][1]` describe the same notes. A passage keeps both timings: the seconds
(cumulated `t`, the MIDI file's own tempo, for synthesis) and the beats (cumulated duration and
rest, for engraving). `songs.json` (LMD id -> MIDI path) next to the folder gives titles.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ugaar_kit.errors import InputError
from ugaar_kit.interfaces.dataset import ScoreSource
from ugaar_kit.interfaces.score import Note, Passage, Song, Syllable

from .key import key_fifths
from .unpickle import load_array

SONGS_JSON = "songs.json"


def _number(value: Any, what: str, path: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(path, f"{what} is not a finite number: {value!r}")
    return float(value)


def _rows(value: Any, width: int, what: str, path: Path) -> list[list[float]]:
    if not isinstance(value, list) or not all(isinstance(r, list) and len(r) == width for r in value):
        raise InputError(path, f"{what} is not a list of {width}-number lists")
    return [[_number(x, what, path) for x in r] for r in value]


def parse_passages(array: Any, path: Path) -> list[Passage]:
    """The lyric lines of one song array as passages (lines without notes are dropped)."""
    if getattr(array, "shape", None) != (1, 3):
        raise InputError(path, f"expected an array of shape (1, 3), found {getattr(array, 'shape', None)}")
    notes_s, notes_b, syllables = array[0][0], array[0][1], array[0][2]
    if not all(isinstance(x, list) for x in (notes_s, notes_b, syllables)):
        raise InputError(path, "a[0] must hold three lists (notes, beats, syllables)")
    if not len(notes_s) == len(notes_b) == len(syllables):
        raise InputError(
            path, f"line counts differ: {len(notes_s)} notes, {len(notes_b)} beats, {len(syllables)} lyrics"
        )
    passages = []
    for i, (raw_s, raw_b, syls) in enumerate(zip(notes_s, notes_b, syllables)):
        where = f"line {i + 1}"
        secs = _rows(raw_s, 4, f"{where} notes", path)
        beats = _rows(raw_b, 3, f"{where} beats", path)
        if not isinstance(syls, list) or not all(isinstance(s, str) for s in syls):
            raise InputError(path, f"{where} syllables are not a list of strings")
        if not len(secs) == len(beats) == len(syls):
            raise InputError(path, f"{where}: {len(secs)} notes, {len(beats)} beats, {len(syls)} syllables")
        if not secs:
            continue
        notes = []
        onset_s = onset_b = 0.0
        # 394 of the sample's 401,639 notes step back in time (t < 0): such a line keeps its
        # beats only and is played at the song's tempo.
        monotonic = all(row[0] >= 0 for row in secs[1:])
        for k, ((t, dur_s, freq, _vel), (pitch, dur_b, rest_b)) in enumerate(zip(secs, beats)):
            if dur_s < 0 or dur_b < 0 or rest_b < 0 or freq <= 0 or not 0 <= pitch <= 127:
                raise InputError(path, f"{where} note {k + 1}: negative duration or pitch out of range")
            if k > 0:
                onset_s += t
                onset_b += beats[k - 1][1] + rest_b
            if monotonic:
                notes.append(Note(int(round(pitch)), onset_b, dur_b, onset_s, dur_s))
            else:
                notes.append(Note(int(round(pitch)), onset_b, dur_b))
        passages.append(Passage(notes, [Syllable(s.strip(), k) for k, s in enumerate(syls)]))
    return passages


def song_tempo(passages: list[Passage]) -> float | None:
    """Quarter notes a minute of the song: the median ratio of beat to second steps between notes."""
    ratios = sorted(
        (b.onset - a.onset) / (b.onset_s - a.onset_s)
        for p in passages
        for a, b in zip(p.notes, p.notes[1:])
        if a.onset_s is not None and b.onset_s is not None and b.onset_s > a.onset_s and b.onset > a.onset
    )
    return 60.0 * ratios[len(ratios) // 2] if ratios else None


class LmdLyricsSource(ScoreSource):
    """LMD lyrics-melody arrays (`Sentence_Parsing/*.npy`), read with a restricted unpickler."""

    name = "lmd-lyrics"
    description = "LMD lyrics-melody songs (Yu et al.): one pickled .npy per song, one passage per lyric line"
    extensions = (".npy",)

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self._titles: dict[Path, dict[str, str]] = {}

    def _midi_paths(self, folder: Path) -> dict[str, str]:
        """LMD id -> MIDI path from `songs.json` beside `folder` (or inside it); {} if none."""
        if folder not in self._titles:
            table: dict[str, str] = {}
            for candidate in (folder.parent / SONGS_JSON, folder / SONGS_JSON):
                if candidate.is_file():
                    try:
                        data = json.loads(candidate.read_text(encoding="utf-8"))
                    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                        raise InputError(candidate, f"invalid JSON ({exc})") from None
                    if not isinstance(data, dict):
                        raise InputError(candidate, "expected an object mapping LMD ids to MIDI paths")
                    table = {str(k): str(v) for k, v in data.items()}
                    break
            self._titles[folder] = table
        return self._titles[folder]

    def read(self, path: Path) -> list[Song]:
        path = Path(path)
        passages = parse_passages(load_array(path), path)
        if not passages:
            raise InputError(path, "no lyric line with notes")
        fifths = key_fifths((n.pitch, n.duration) for p in passages for n in p.notes)
        tempo = song_tempo(passages)
        for p in passages:
            p.key_fifths = fifths
            p.tempo_bpm = tempo
        midi = self._midi_paths(path.parent.resolve()).get(path.stem)
        meta: dict[str, Any] = {"language": "en"}
        if midi:
            meta["lmd_midi_path"] = midi
        title = Path(midi).stem.replace("_", " ") if midi else None
        return [Song(path.stem, passages, title=title, source="lmd-lyrics", meta=meta)]
