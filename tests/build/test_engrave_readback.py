"""Engraving: verovio reads back the passage's pitches and durations; the PNGs are notation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from build_songs import SONG_IDS
from lxml import etree
from PIL import Image
from ugaar_kit_plugins.dataset_lmd.source import LmdLyricsSource

from ugaar_kit.build.engrave import to_mei
from ugaar_kit.build.notation import DIVISIONS, passage_to_musicxml
from ugaar_kit.interfaces.score import Note, Passage, Syllable

MEI = "{http://www.music-encoding.org/ns/mei}"
_PC = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_ALTER = {"s": 1, "f": -1, "n": 0, "ss": 2, "x": 2, "ff": -2}


def read_back(mei: str, measure_ppq: int) -> list[tuple[int, float, float]]:
    """(midi pitch, onset, duration) in quarter notes of the notes verovio engraved, ties merged."""
    root = etree.fromstring(mei.encode())
    ppq = next(int(e.get("ppq")) for e in root.iter(f"{MEI}staffDef") if e.get("ppq"))
    tie_ends = {t.get("endid").lstrip("#") for t in root.iter(f"{MEI}tie")}
    out: list[list[float]] = []
    t = 0
    for el in root.iter(f"{MEI}note", f"{MEI}rest", f"{MEI}mRest"):
        length = measure_ppq * ppq // DIVISIONS if el.tag == f"{MEI}mRest" else int(el.get("dur.ppq"))
        if el.tag == f"{MEI}note":
            marks = [el, *el.iter(f"{MEI}accid")]  # written (`accid`) or from the key (`accid.ges`)
            accid = next((m.get(a) for m in marks for a in ("accid", "accid.ges") if m.get(a)), "n")
            pitch = 12 * (int(el.get("oct")) + 1) + _PC[el.get("pname")] + _ALTER[accid]
            xml_id = el.get("{http://www.w3.org/XML/1998/namespace}id")
            if xml_id in tie_ends:
                assert out[-1][0] == pitch
                out[-1][2] += length / ppq
            else:
                out.append([pitch, t / ppq, length / ppq])
        t += length
    return [(int(p), on, d) for p, on, d in out]


def test_verovio_reads_back_pitches_and_durations(lmd_files: Path) -> None:
    source = LmdLyricsSource()
    checked = 0
    for sid in SONG_IDS:
        (song,) = source.read(lmd_files / f"{sid}.npy")
        for passage in song.passages[:8]:
            origin = passage.notes[0].onset
            expected = [(n.pitch, n.onset - origin, n.duration) for n in passage.notes]
            assert read_back(to_mei(passage), 4 * DIVISIONS) == expected
            checked += 1
    assert checked == 24


def test_ties_accidentals_and_clef() -> None:
    # A 5-quarter note across the bar line (tied), C#5 then C5 in one bar, a low melody.
    notes = [Note(73, 0, 1), Note(72, 1, 5), Note(45, 6, 0.75), Note(47, 6.75, 0.25)]
    passage = Passage(notes, [Syllable("a", i) for i in range(4)], key_fifths=0)
    expected = [(73, 0.0, 1.0), (72, 1.0, 5.0), (45, 6.0, 0.75), (47, 6.75, 0.25)]
    assert read_back(to_mei(passage), 4 * DIVISIONS) == expected
    xml = passage_to_musicxml(passage)
    assert xml.count('<tie type="start"/>') >= 1 and "<accidental>natural</accidental>" in xml
    low = Passage([Note(45, 0, 1), Note(50, 1, 1)], [Syllable("la", 0), Syllable("la", 1)])
    assert "<sign>F</sign>" in passage_to_musicxml(low)
    # a clef given (its song's) wins over the one that fits the passage
    given = passage_to_musicxml(low, clef="treble-8vb")
    assert "<sign>G</sign>" in given and "<clef-octave-change>-1</clef-octave-change>" in given
    with pytest.raises(ValueError, match="unknown clef 'alto'"):
        passage_to_musicxml(low, clef="alto")


def _staff_lines(image: np.ndarray) -> int:
    """Runs of rows dark across at least 60% of the width (ledger lines and beams are shorter)."""
    full = (image < 128).mean(axis=1) > 0.6
    return int(np.sum(full[1:] & ~full[:-1]) + full[0])


def test_pngs_are_notation(built: tuple[Path, object]) -> None:
    out, _ = built
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    for row in rows:
        image = np.asarray(Image.open(out / row["sheet"]))
        assert image.dtype == np.uint8 and image.ndim == 2 and image.shape[0] == 128
        assert 150 < image.shape[1] < 2000
        dark = float((image < 128).mean())
        assert 0.05 < dark < 0.4, (row["id"], dark)
        assert _staff_lines(image) == 5, row["id"]
    widths = [Image.open(out / r["sheet"]).width for r in rows]
    assert len(set(widths)) > len(rows) // 2  # width follows the passage
