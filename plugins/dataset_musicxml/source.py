"""The `musicxml` score source: MusicXML scores with lyrics -> songs of lyric-line passages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ugaar_kit.errors import InputError
from ugaar_kit.interfaces.dataset import ScoreSource
from ugaar_kit.interfaces.options import option
from ugaar_kit.interfaces.score import Note, Passage, Song, Syllable

from .container import read_score_xml
from .lines import LineRule, SungSyllable, split_lines
from .melody import SungNote, lyric_voice, sung_notes, verse_numbers
from .parts import Measure, Part, part_names, read_part
from .tempo import TempoMap
from .unfold import check_no_jumps, playing_order, printed_order


@dataclass(frozen=True)
class MusicXMLOptions:
    part: str = option(
        "", "The part sung: its id (P2), name (Soprano) or number (2); empty: the first part with lyrics."
    )
    verse: int = option(1, "Which verse (lyric line) to read: 1 = the lowest-numbered lyric of the part.", min=1)
    repeats: Literal["unfold", "as-written"] = option(
        "unfold",
        "unfold: play repeats and voltas (verse n on pass n), refuse D.C./D.S.; as-written: read once as printed.",
    )
    max_syllables: int = option(10, "A lyric line is cut after at most this many syllables (at a word end).", min=1)
    min_rest_beats: float = option(1.0, "A rest at least this long (quarter notes) ends a lyric line.", min=0.0)
    min_punctuation_syllables: int = option(
        3, "Phrase punctuation (, ; : . ! ?) ends a line once it has this many syllables.", min=1
    )
    break_at_fermata: bool = option(True, "A fermata ends a lyric line (chorale phrases).")
    default_tempo_bpm: float = option(
        0.0,
        "Tempo (quarter notes a minute) for scores without a tempo mark; 0: leave seconds unset (the builder's tempo applies).",
        min=0.0,
    )
    language: str = option("", "Lyrics language for Song.meta (en, de, ...); empty: the score's xml:lang, else unset.")


class MusicXMLSource(ScoreSource):
    """MusicXML (`.musicxml`, `.xml`, compressed `.mxl`) scores with lyrics: one song a file, a
    passage a lyric line of the sung part. See docs/datasets.md for every rule."""

    name = "musicxml"
    description = "MusicXML scores with lyrics (.musicxml, .xml, .mxl): the sung part cut into lyric lines."
    Options = MusicXMLOptions
    extensions = (".musicxml", ".xml", ".mxl")

    def read(self, path: Path) -> list[Song]:
        path = Path(path)
        o: MusicXMLOptions = self.options
        root = read_score_xml(path)
        where = str(path)
        names = part_names(root)
        part_els = root.findall("part")
        if not part_els:
            raise InputError(path, "the score has no parts")
        parts = [read_part(el, names.get(el.get("id", ""), ""), where) for el in part_els]
        part = self._choose_part(parts, path)
        voice = lyric_voice(part)
        verses = verse_numbers(part)
        if voice is None or not verses:
            raise InputError(path, f"part '{part.name or part.id}' has no lyrics")
        if o.verse > len(verses):
            raise InputError(
                path, f"verse {o.verse} asked, but part '{part.name or part.id}' has {len(verses)} verse(s)"
            )

        if o.repeats == "unfold":
            check_no_jumps(part.measures, where)
            order = playing_order(part.measures, where)
        else:
            order = printed_order(part.measures)
        notes, starts = sung_notes(part, order, voice, o.verse)
        tempo, stated = self._tempo_map(parts, order, starts)
        lines = split_lines(
            notes, LineRule(o.max_syllables, o.min_rest_beats, o.min_punctuation_syllables, o.break_at_fermata)
        )
        signatures = _signatures(part.measures)
        passages = [self._passage(line, notes, tempo, signatures) for line in lines]
        passages = [p for p in passages if p.notes and p.syllables]
        if not passages:
            raise InputError(path, f"verse {o.verse} of part '{part.name or part.id}' has no sung syllables")
        language = o.language or next(iter(sorted(part.languages)), "")
        meta = {
            "file": str(path),
            "part": part.name or part.id,
            "part_id": part.id,
            "verse": o.verse,
            "repeats": o.repeats,
            "tempo_stated": stated,
        }
        if language:
            meta["language"] = language
        for key in ("composer", "lyricist", "poet"):
            creator = root.find(f"identification/creator[@type='{key}']")
            if creator is not None and (creator.text or "").strip():
                meta[key] = creator.text.strip()
        rights = root.find("identification/rights")
        if rights is not None and (rights.text or "").strip():
            meta["rights"] = " ".join(rights.text.split())
        return [Song(id=path.stem, passages=passages, title=_title(root), source=self.name, meta=meta)]

    def _choose_part(self, parts: list[Part], path: Path) -> Part:
        wanted = self.options.part.strip()
        if not wanted:
            for p in parts:
                if any(n.lyrics for m in p.measures for n in m.notes):
                    return p
            raise InputError(path, "no part has lyrics")
        for k, p in enumerate(parts, 1):
            if wanted in (p.id, p.name, str(k)) or wanted.lower() == p.name.lower():
                return p
        known = ", ".join(f"{p.id} ({p.name})" if p.name else p.id for p in parts)
        raise InputError(path, f"no part '{wanted}' (parts: {known})")

    def _tempo_map(self, parts: list[Part], order: list[tuple[int, int]], starts: list[float]) -> tuple[TempoMap, bool]:
        """The tempo marks along the unfolded timeline, and whether the score states any."""
        marks: dict[float, float] = {}
        for (m_index, _), start in zip(order, starts):
            for p in parts:  # tempo marks are often written only in the top part
                if m_index < len(p.measures):
                    for offset, bpm in p.measures[m_index].tempos:
                        marks.setdefault(round(start + offset, 6), bpm)
        if marks:
            return TempoMap(list(marks.items())), True
        if self.options.default_tempo_bpm > 0:
            return TempoMap([(0.0, self.options.default_tempo_bpm)]), False
        return TempoMap([]), False

    def _passage(
        self,
        line: list[SungSyllable],
        notes: list[SungNote],
        tempo: TempoMap,
        signatures: list[tuple[tuple[int, int], int]],
    ) -> Passage:
        first, last = line[0].first, line[-1].last
        sung = notes[first : last + 1]
        t0 = sung[0].onset
        s0 = tempo.at(t0) if tempo else None
        out_notes = []
        for n in sung:
            onset_s = duration_s = None
            if tempo and s0 is not None:
                onset_s = tempo.at(n.onset) - s0
                duration_s = tempo.at(n.end) - tempo.at(n.onset)
            out_notes.append(
                Note(pitch=n.pitch, onset=n.onset - t0, duration=n.duration, onset_s=onset_s, duration_s=duration_s)
            )
        syllables = [Syllable(text=s.text, note=s.first - first, word_end=s.word_end) for s in line]
        time_signature, key_fifths = signatures[sung[0].measure]
        return Passage(
            notes=out_notes,
            syllables=syllables,
            time_signature=time_signature,
            key_fifths=key_fifths,
            tempo_bpm=tempo.bpm_at(t0) if tempo else None,
        )


def _signatures(measures: list[Measure]) -> list[tuple[tuple[int, int], int]]:
    """The time signature and key (fifths) in force in each printed measure."""
    out = []
    time, key = (4, 4), 0
    for m in measures:
        time = m.time or time
        key = m.key_fifths if m.key_fifths is not None else key
        out.append((time, key))
    return out


def _title(root) -> str | None:  # noqa: ANN001 - lxml element
    for path in ("work/work-title", "movement-title"):
        el = root.find(path)
        if el is not None and (el.text or "").strip():
            return " ".join(el.text.split())
    credit = root.find("credit/credit-words")
    if credit is not None and (credit.text or "").strip():
        return " ".join(credit.text.split())
    return None
