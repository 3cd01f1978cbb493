"""A passage as MusicXML for the engraver: pitch spelling from the key, durations as note values
tied where one value does not fit (and across bar lines), rests for gaps, a time signature, a
key signature, explicit accidentals and a clef: the one that fits the passage's range, or the
one given (`dataset build --clef song` gives each passage its song's, as its pages show it).

Onsets and durations are quantized to a grid of `DIVISIONS` per quarter note (a 32nd note);
values that do not fall on it (tuplets) are rounded to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

from ugaar_kit.interfaces.score import Passage

DIVISIONS = 8
"""Grid steps per quarter note: one step is a 32nd note."""

# (length in grid steps, MusicXML type, dots), longest first: what one notehead can show.
NOTE_VALUES: tuple[tuple[int, str, int], ...] = (
    (32, "whole", 0),
    (24, "half", 1),
    (16, "half", 0),
    (12, "quarter", 1),
    (8, "quarter", 0),
    (6, "eighth", 1),
    (4, "eighth", 0),
    (3, "16th", 1),
    (2, "16th", 0),
    (1, "32nd", 0),
)

_STEPS = "CDEFGAB"
_STEP_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_SHARP_ORDER = "FCGDAEB"
_ACCIDENTAL = {-1: "flat", 0: "natural", 1: "sharp"}


@dataclass(frozen=True)
class Clef:
    """A clef and the MIDI pitches of its bottom and top staff lines."""

    name: str
    sign: str
    line: int
    octave_change: int
    bottom: int
    top: int


CLEFS: tuple[Clef, ...] = (
    Clef("treble", "G", 2, 0, 64, 77),
    Clef("bass", "F", 4, 0, 43, 57),
    Clef("treble-8vb", "G", 2, -1, 52, 65),
    Clef("treble-8va", "G", 2, 1, 76, 89),
)
"""Candidate clefs, in order of preference when two fit equally well."""
CLEFS_BY_NAME: dict[str, Clef] = {c.name: c for c in CLEFS}


def choose_clef(pitches: list[int]) -> Clef:
    """The clef that keeps the notes closest to the staff (fewest semitones outside it)."""

    def cost(clef: Clef) -> int:
        return sum(max(0, p - clef.top) + max(0, clef.bottom - p) for p in pitches)

    return min(CLEFS, key=cost)


def key_alterations(fifths: int) -> dict[str, int]:
    """The alteration of each step in the key signature of `fifths` (-7..7)."""
    alter = dict.fromkeys(_STEPS, 0)
    if fifths > 0:
        for step in _SHARP_ORDER[:fifths]:
            alter[step] = 1
    elif fifths < 0:
        for step in _SHARP_ORDER[::-1][:-fifths]:
            alter[step] = -1
    return alter


def spell(pitch: int, fifths: int) -> tuple[str, int, int]:
    """(step, alter, octave) of MIDI `pitch` in the key of `fifths`: the key's own spelling for
    notes of its scale, else a natural, else a sharp (sharp keys and C) or a flat (flat keys)."""
    pc = pitch % 12
    in_key = key_alterations(fifths)
    candidates = [(s, in_key[s]) for s in _STEPS] + [(s, 0) for s in _STEPS]
    candidates += [(s, 1 if fifths >= 0 else -1) for s in _STEPS] + [(s, -1 if fifths >= 0 else 1) for s in _STEPS]
    for step, alter in candidates:
        if (_STEP_PC[step] + alter) % 12 == pc:
            # B#/Cb and E#/Fb shift the octave: the octave is that of the written step
            octave = (pitch - alter) // 12 - 1
            return step, alter, octave
    raise AssertionError(f"no spelling for pitch {pitch}")  # every pitch class has one


def split_value(length: int) -> list[tuple[int, str, int]]:
    """Note values (largest first) whose lengths add up to `length` grid steps."""
    out: list[tuple[int, str, int]] = []
    while length > 0:
        value = next(v for v in NOTE_VALUES if v[0] <= length)
        out.append(value)
        length -= value[0]
    return out


@dataclass
class _Event:
    start: int
    end: int
    note: int | None  # index into passage.notes, None for a rest


def _events(passage: Passage, measure: int) -> list[_Event]:
    """Notes and the rests between them on the grid, monophonic, the last bar filled with rests."""
    events: list[_Event] = []
    cursor = 0
    origin = passage.notes[0].onset
    for i, note in enumerate(passage.notes):
        start = max(round((note.onset - origin) * DIVISIONS), cursor)
        end = max(round((note.onset - origin + note.duration) * DIVISIONS), start + 1)
        if events and events[-1].end > start:  # overlapping notes: the earlier one yields
            events[-1].end = max(events[-1].start + 1, start)
            start = max(start, events[-1].end)
            end = max(end, start + 1)
        if start > cursor:
            events.append(_Event(cursor, start, None))
        events.append(_Event(start, end, i))
        cursor = end
    total = -(-cursor // measure) * measure
    if total > cursor:
        events.append(_Event(cursor, total, None))
    return events


def note_quarters(passage: Passage) -> list[float]:
    """Where each note of the passage starts in its engraving, in quarter notes from the first
    note: the grid position `passage_to_musicxml` gives it (verovio's timemap `qstamp`)."""
    beats, beat_type = passage.time_signature
    measure = round(beats * 4 * DIVISIONS / beat_type)
    starts = [0.0] * len(passage.notes)
    for event in _events(passage, measure):
        if event.note is not None:
            starts[event.note] = event.start / DIVISIONS
    return starts


def _pieces(event: _Event, measure: int) -> list[tuple[int, int, int, str, int]]:
    """An event cut at bar lines and into note values: (bar, start, length, type, dots)."""
    out = []
    t = event.start
    while t < event.end:
        bar = t // measure
        stop = min(event.end, (bar + 1) * measure)
        for length, kind, dots in split_value(stop - t):
            out.append((bar, t, length, kind, dots))
            t += length
    return out


def _syllabic(passage: Passage) -> dict[int, tuple[str, str]]:
    """note index -> (syllabic, text) of the syllable sung from it."""
    out: dict[int, tuple[str, str]] = {}
    continues = False
    for syl in passage.syllables:
        if syl.word_end:
            kind = "end" if continues else "single"
        else:
            kind = "middle" if continues else "begin"
        continues = not syl.word_end
        if syl.note in out:  # two syllables on one note: show both
            prev_kind, prev_text = out[syl.note]
            out[syl.note] = (prev_kind, f"{prev_text} {syl.text}")
        else:
            out[syl.note] = (kind, syl.text)
    return out


def passage_to_musicxml(passage: Passage, *, print_lyrics: bool = False, clef: str | None = None) -> str:
    """A one-part MusicXML (partwise 4.0) score of the passage; lyrics under notes if asked; in
    the clef named `clef`, or (None) the one that fits the passage's range (`choose_clef`)."""
    if not passage.notes:
        raise ValueError("a passage without notes cannot be engraved")
    beats, beat_type = passage.time_signature
    measure = round(beats * 4 * DIVISIONS / beat_type)
    fifths = max(-7, min(7, passage.key_fifths))
    if clef is not None and clef not in CLEFS_BY_NAME:
        raise ValueError(f"unknown clef {clef!r} (known: {', '.join(CLEFS_BY_NAME)})")
    written = CLEFS_BY_NAME[clef] if clef is not None else choose_clef([n.pitch for n in passage.notes])
    lyrics = _syllabic(passage) if print_lyrics else {}
    spelled = [spell(n.pitch, fifths) for n in passage.notes]

    bars: dict[int, list[str]] = {}
    key_alter = key_alterations(fifths)
    state: dict[tuple[str, int], int] = {}
    state_bar = -1
    events = _events(passage, measure)
    for k, event in enumerate(events):
        pieces = _pieces(event, measure)
        nxt = events[k + 1].note if k + 1 < len(events) else None
        prev = events[k - 1].note if k > 0 else None
        tie_into_next = (
            event.note is not None
            and nxt is not None
            and passage.notes[event.note].tie_next
            and passage.notes[nxt].pitch == passage.notes[event.note].pitch
            and events[k + 1].start == event.end
        )
        tied_from_prev = (
            event.note is not None
            and prev is not None
            and passage.notes[prev].tie_next
            and passage.notes[prev].pitch == passage.notes[event.note].pitch
            and events[k - 1].end == event.start
        )
        for j, (bar, start, length, kind, dots) in enumerate(pieces):
            if bar != state_bar:
                state, state_bar = {}, bar
            xml = bars.setdefault(bar, [])
            if event.note is None:
                whole_bar = length == measure and start % measure == 0
                rest = '<rest measure="yes"/>' if whole_bar else "<rest/>"
                shown = "" if whole_bar else f"<type>{kind}</type>" + "<dot/>" * dots
                xml.append(f"<note>{rest}<duration>{length}</duration><voice>1</voice>{shown}</note>")
                continue
            step, alter, octave = spelled[event.note]
            parts = ["<note><pitch>", f"<step>{step}</step>"]
            if alter:
                parts.append(f"<alter>{alter}</alter>")
            parts.append(f"<octave>{octave}</octave></pitch><duration>{length}</duration>")
            starts = j < len(pieces) - 1 or tie_into_next
            stops = j > 0 or tied_from_prev
            if stops:
                parts.append('<tie type="stop"/>')
            if starts:
                parts.append('<tie type="start"/>')
            parts.append(f"<voice>1</voice><type>{kind}</type>" + "<dot/>" * dots)
            current = state.get((step, octave), key_alter[step])
            if j == 0 and not tied_from_prev and alter != current:
                parts.append(f"<accidental>{_ACCIDENTAL[alter]}</accidental>")
            state[(step, octave)] = alter
            if stops or starts:
                ties = ('<tied type="stop"/>' if stops else "") + ('<tied type="start"/>' if starts else "")
                parts.append(f"<notations>{ties}</notations>")
            if j == 0 and not tied_from_prev and event.note in lyrics:
                syllabic, text = lyrics[event.note]
                parts.append(f'<lyric number="1"><syllabic>{syllabic}</syllabic><text>{escape(text)}</text></lyric>')
            parts.append("</note>")
            xml.append("".join(parts))

    octave_change = f"<clef-octave-change>{written.octave_change}</clef-octave-change>" if written.octave_change else ""
    attributes = (
        f"<attributes><divisions>{DIVISIONS}</divisions><key><fifths>{fifths}</fifths></key>"
        f"<time><beats>{beats}</beats><beat-type>{beat_type}</beat-type></time>"
        f"<clef><sign>{written.sign}</sign><line>{written.line}</line>{octave_change}</clef></attributes>"
    )
    measures = []
    for bar in sorted(bars):
        head = attributes if bar == 0 else ""
        measures.append(f'<measure number="{bar + 1}">{head}{"".join(bars[bar])}</measure>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<score-partwise version="4.0"><part-list><score-part id="P1"><part-name print-object="no"></part-name>'
        '</score-part></part-list><part id="P1">' + "".join(measures) + "</part></score-partwise>"
    )
