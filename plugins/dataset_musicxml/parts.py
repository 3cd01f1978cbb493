"""A part-wise MusicXML score read into measures of timed note events (quarter-note units).

Only what a sung melody needs is kept: per note its onset inside the measure, duration, MIDI
pitch (sounding, after `<transpose>`), voice, ties, fermata and lyrics by verse; per measure
its time and key signature changes, repeat barlines, volta endings, tempo marks and jumps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from ugaar_kit.errors import InputError

_STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_BEAT_UNITS = {"whole": 4.0, "half": 2.0, "quarter": 1.0, "eighth": 0.5, "16th": 0.25, "32nd": 0.125, "breve": 8.0}
JUMPS = ("dacapo", "dalsegno", "tocoda")

LyricSyllables = list[tuple[str, str]]
"""One lyric of one note: `(syllabic, text)` pairs, several when syllables are elided on a note."""


@dataclass
class NoteEvent:
    """One `<note>` (or rest, `pitch` None) of a measure; times in quarter notes."""

    onset: float
    duration: float
    pitch: int | None
    voice: str
    tie_start: bool = False
    tie_stop: bool = False
    fermata: bool = False
    lyrics: dict[str, LyricSyllables] = field(default_factory=dict)
    """Lyric number (as written, `"1"` when absent) -> its syllables on this note."""


@dataclass
class Measure:
    """One `<measure>` of a part."""

    number: str
    length: float
    notes: list[NoteEvent]
    time: tuple[int, int] | None = None
    key_fifths: int | None = None
    forward_repeat: bool = False
    backward_repeat: int = 0
    """How many times the section ending here is played (0: no backward repeat here)."""
    endings: frozenset[int] | None = None
    """The passes this measure belongs to when it is under a volta (`<ending number="1, 2">`)."""
    tempos: list[tuple[float, float]] = field(default_factory=list)
    """(offset in quarters, quarter notes per minute) of every tempo mark in the measure."""
    jumps: list[str] = field(default_factory=list)


@dataclass
class Part:
    id: str
    name: str
    measures: list[Measure]
    languages: set[str] = field(default_factory=set)


def _text(el: etree._Element | None, default: str = "") -> str:
    return (el.text or "").strip() if el is not None else default


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(where, f"'{text}' is not a number") from None


def _pitch(note: etree._Element, transpose: int, where: str) -> int | None:
    pitch = note.find("pitch")
    if pitch is None:
        unpitched = note.find("unpitched")
        if unpitched is None:
            return None
        step, octave, alter = _text(unpitched.find("display-step")), _text(unpitched.find("display-octave")), "0"
    else:
        step, octave, alter = (
            _text(pitch.find("step")),
            _text(pitch.find("octave")),
            _text(pitch.find("alter"), "0") or "0",
        )
    if step.upper() not in _STEPS or not octave.lstrip("-").isdigit():
        raise InputError(where, f"note with an invalid pitch (step '{step}', octave '{octave}')")
    midi = 12 * (int(octave) + 1) + _STEPS[step.upper()] + round(_number(alter, where)) + transpose
    if not 0 <= midi <= 127:
        raise InputError(where, f"note pitch {midi} is outside the MIDI range")
    return midi


def _lyrics(note: etree._Element, languages: set[str]) -> dict[str, LyricSyllables]:
    out: dict[str, LyricSyllables] = {}
    for position, lyric in enumerate(note.findall("lyric"), 1):
        number = lyric.get("number") or str(position)
        if lyric.get(_XML_LANG):
            languages.add(lyric.get(_XML_LANG, ""))
        pairs: LyricSyllables = []
        syllabic = "single"
        for child in lyric:
            tag = child.tag
            if tag == "syllabic":
                syllabic = _text(child) or "single"
            elif tag == "text":
                text = "".join(child.itertext()).strip()
                if child.get(_XML_LANG):
                    languages.add(child.get(_XML_LANG, ""))
                if text:
                    pairs.append((syllabic, text))
                syllabic = "single"
        if pairs:
            out.setdefault(number, pairs)
    return out


def _metronome_bpm(metronome: etree._Element) -> float | None:
    unit = _BEAT_UNITS.get(_text(metronome.find("beat-unit")))
    match = re.search(r"\d+(?:\.\d+)?", _text(metronome.find("per-minute")))
    if unit is None or match is None:
        return None
    dots = len(metronome.findall("beat-unit-dot"))
    quarters = unit * (2 - 0.5**dots)
    return float(match.group()) * quarters


def read_part(part: etree._Element, name: str, where: str) -> Part:
    """All measures of one `<part>`, with divisions, ties, chords, voices and backups resolved."""
    divisions = 1.0
    transpose = 0
    current_time = (4, 4)
    measures: list[Measure] = []
    languages: set[str] = set()
    for m_el in part.iterfind("measure"):
        number = m_el.get("number", str(len(measures) + 1))
        here = f"{where}: measure {number}"
        m = Measure(number=number, length=0.0, notes=[])
        pos = 0.0
        longest = 0.0
        last_onset = 0.0
        for el in m_el:
            tag = el.tag
            if tag == "note":
                if el.find("grace") is not None:
                    continue
                duration = _number(_text(el.find("duration"), "0") or "0", here) / divisions
                chord = el.find("chord") is not None
                onset = last_onset if chord else pos
                if not chord:
                    last_onset = pos
                    pos += duration
                    longest = max(longest, pos)
                if el.find("cue") is not None:
                    continue
                ties = {t.get("type") for t in el.findall("tie")} | {
                    t.get("type") for t in el.findall("notations/tied")
                }
                m.notes.append(
                    NoteEvent(
                        onset=onset,
                        duration=duration,
                        pitch=None if el.find("rest") is not None else _pitch(el, transpose, here),
                        voice=_text(el.find("voice"), "1") or "1",
                        tie_start="start" in ties,
                        tie_stop="stop" in ties,
                        fermata=el.find("notations/fermata") is not None,
                        lyrics=_lyrics(el, languages),
                    )
                )
            elif tag == "backup":
                pos = max(0.0, pos - _number(_text(el.find("duration"), "0"), here) / divisions)
            elif tag == "forward":
                pos += _number(_text(el.find("duration"), "0"), here) / divisions
                longest = max(longest, pos)
            elif tag == "attributes":
                if el.find("divisions") is not None:
                    divisions = _number(_text(el.find("divisions")), here)
                    if divisions <= 0:
                        raise InputError(here, f"divisions must be positive, got {divisions:g}")
                fifths = el.find("key/fifths")
                if fifths is not None and m.key_fifths is None:
                    m.key_fifths = int(_number(_text(fifths), here))
                time = el.find("time")
                if time is not None and m.time is None and time.find("beats") is not None:
                    beats = sum(int(_number(b, here)) for b in re.split(r"[+]", _text(time.find("beats"))) if b)
                    m.time = (beats, int(_number(_text(time.find("beat-type"), "4"), here)))
                chromatic = el.find("transpose/chromatic")
                if chromatic is not None:
                    octaves = _text(el.find("transpose/octave-change"), "0") or "0"
                    transpose = int(_number(_text(chromatic), here)) + 12 * int(_number(octaves, here))
            elif tag in ("direction", "sound"):
                offset = pos + _number(_text(el.find("offset"), "0") or "0", here) / divisions
                sounds = [el] if tag == "sound" else el.findall("sound")
                bpm = None
                for sound in sounds:
                    if sound.get("tempo"):
                        bpm = _number(sound.get("tempo", ""), here)
                    m.jumps += [j for j in JUMPS if sound.get(j)]
                if bpm is None and tag == "direction":
                    metronome = el.find("direction-type/metronome")
                    bpm = _metronome_bpm(metronome) if metronome is not None else None
                if bpm is not None and bpm > 0:
                    m.tempos.append((offset, bpm))
            elif tag == "barline":
                repeat = el.find("repeat")
                if repeat is not None:
                    if repeat.get("direction") == "forward":
                        m.forward_repeat = True
                    elif repeat.get("direction") == "backward":
                        m.backward_repeat = max(2, int(_number(repeat.get("times", "2"), here)))
                ending = el.find("ending")
                if ending is not None and ending.get("type") == "start":
                    passes = frozenset(int(n) for n in re.findall(r"\d+", ending.get("number", "")))
                    m.endings = passes or None
        current_time = m.time or current_time
        # An empty measure (no notes nor forwards) still lasts a bar of its time signature.
        m.length = longest if longest > 0 else current_time[0] * 4.0 / current_time[1]
        measures.append(m)
    _spread_endings(part, measures)
    return Part(id=part.get("id", ""), name=name, measures=measures, languages=languages)


def _spread_endings(part: etree._Element, measures: list[Measure]) -> None:
    """A volta starts in one measure and stops in a later one: mark every measure under it."""
    current: frozenset[int] | None = None
    for m_el, m in zip(part.iterfind("measure"), measures):
        stops = False
        for ending in m_el.iterfind("barline/ending"):
            if ending.get("type") in ("stop", "discontinue"):
                stops = True
        if m.endings is not None:
            current = m.endings
        elif current is not None:
            m.endings = current
        if stops:
            current = None


def part_names(root: etree._Element) -> dict[str, str]:
    """Part id -> part name from `<part-list>`."""
    return {sp.get("id", ""): _text(sp.find("part-name")) for sp in root.iterfind("part-list/score-part")}
