"""`dataset build --whole-songs` (issue 21): each song as one recording and as score pages, with
where each passage sits in both (songs.jsonl)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from build_songs import SONG_IDS, trimmed
from PIL import Image

from ugaar_kit.build.builder import BuildOptions, build_dataset
from ugaar_kit.build.pages import engrave_song
from ugaar_kit.build.segment import join_lines
from ugaar_kit.interfaces.score import Note, Passage, Syllable


@pytest.fixture(scope="module")
def whole(lmd_files: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ugaar_kit_plugins.dataset_lmd.source import LmdLyricsSource

    out = tmp_path_factory.mktemp("whole")
    options = BuildOptions(workers=1, whole_songs=True)
    summary = build_dataset(trimmed(LmdLyricsSource().songs([lmd_files]), 12), out, options, progress=False)
    assert summary.whole_songs == len(SONG_IDS) and not summary.failed
    return out


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_each_song_lists_its_passages_in_order_with_times_that_tile_its_recording(whole):
    manifest = _rows(whole / "manifest.jsonl")
    songs = _rows(whole / "songs.jsonl")
    assert [s["song_id"] for s in songs] == list(SONG_IDS)
    for song in songs:
        mine = [r for r in manifest if r["song_id"] == song["song_id"]]
        assert [p["id"] for p in song["passages"]] == [r["id"] for r in mine]
        assert {song["split"], song["song"]} == {mine[0]["split"], mine[0]["song"]}
        starts = [p["start"] for p in song["passages"]]
        ends = [p["end"] for p in song["passages"]]
        assert starts[0] == 0.0 and starts[1:] == ends[:-1]  # end to end, no gap
        # each span is its passage's own length (its notes' timing in the manifest)
        for p, r in zip(song["passages"], mine):
            length = max(on + d for _, on, d in r["notes"])
            assert p["end"] - p["start"] == pytest.approx(length, abs=1e-5)
        info = sf.info(str(whole / song["audio"]))
        assert info.duration == pytest.approx(song["duration"], abs=1e-3)
        assert ends[-1] < song["duration"] < ends[-1] + 0.5


def _envelope(x: np.ndarray, frame: int = 220) -> np.ndarray:
    n = len(x) // frame
    return np.sqrt((x[: n * frame].reshape(n, frame) ** 2).mean(axis=1))


def test_the_recording_plays_each_passage_at_its_span(whole):
    song = _rows(whole / "songs.jsonl")[0]
    manifest = {r["id"]: r for r in _rows(whole / "manifest.jsonl")}
    audio, sr = sf.read(str(whole / song["audio"]), dtype="float32")
    for p in song["passages"][1:-1]:
        alone, _ = sf.read(str(whole / manifest[p["id"]]["audio"]), dtype="float32")
        a, b = round((p["start"] + 0.1) * sr), round(p["end"] * sr)  # past the last release
        part, ref = audio[a:b], alone[a - round(p["start"] * sr) : b - round(p["start"] * sr)]
        # the same notes: the same loudness envelope (each file has its own gain, and an onset
        # may fall a sample apart, which the waveforms' high harmonics feel)
        assert np.corrcoef(_envelope(part), _envelope(ref))[0, 1] > 0.99
        other = audio[a + sr // 3 : b + sr // 3][: len(ref)]  # a third of a second off
        assert np.corrcoef(_envelope(other), _envelope(ref[: len(other)]))[0, 1] < 0.9


def test_each_passage_has_a_box_inside_its_system_in_reading_order(whole):
    for song in _rows(whole / "songs.jsonl"):
        sizes = {Image.open(whole / page).size for page in song["pages"]}
        assert sizes == {tuple(song["page_size"])}
        previous = (0, 0, -1)
        for p in song["passages"]:
            x0, y0, x1, y1 = p["box"]
            sx0, sy0, sx1, sy1 = song["systems"][p["page"] - 1][p["system"] - 1]
            assert sx0 <= x0 < x1 <= sx1 and (y0, y1) == (sy0, sy1)
            assert {"page": p["page"], "system": p["system"], "box": p["box"]} in p["spans"]
            first = p["spans"][0]
            where = (first["page"], first["system"], first["box"][0])
            assert where >= previous  # passages follow one another through the pages
            previous = where
            page = np.asarray(Image.open(whole / song["pages"][p["page"] - 1]))
            assert (page[y0:y1, x0:x1] < 128).mean() > 0.02  # notes are printed there


def test_a_second_build_keeps_the_whole_songs(whole, lmd_files):
    from ugaar_kit_plugins.dataset_lmd.source import LmdLyricsSource

    song = _rows(whole / "songs.jsonl")[0]
    before = os.stat(whole / song["pages"][0]).st_mtime_ns
    text = (whole / "songs.jsonl").read_text()
    options = BuildOptions(workers=1, whole_songs=True)
    summary = build_dataset(trimmed(LmdLyricsSource().songs([lmd_files]), 12), whole, options, progress=False)
    assert summary.built == 0 and summary.whole_songs == len(SONG_IDS)
    assert os.stat(whole / song["pages"][0]).st_mtime_ns == before
    assert (whole / "songs.jsonl").read_text() == text


def _bars(n: int, pitches: tuple[int, ...] = (60, 62, 64, 65)) -> list[Passage]:
    """`n` passages of one 4/4 bar each: four quarter notes."""
    out = []
    for k in range(n):
        notes = [Note(p + (k % 5), float(i), 1.0) for i, p in enumerate(pitches)]
        out.append(Passage(notes, [Syllable("la", i) for i in range(4)]))
    return out


def test_engraving_locates_every_note_of_every_passage_on_pages():
    passages = _bars(120)  # several systems, two pages
    engraved = engrave_song(join_lines(passages), [4 * k for k in range(len(passages))])
    assert len(engraved.pages) >= 2
    for k, spans in enumerate(engraved.spans):
        assert sum(s.notes for s in spans) == 4, k  # its four notes, nowhere else
        assert len(spans) == 1  # a bar is never cut by a system break
    boxes = [engraved.located(k)["box"] for k in range(len(passages))]
    places = [(engraved.located(k)["page"], engraved.located(k)["system"]) for k in range(len(passages))]
    for k in range(1, len(passages)):
        if places[k] == places[k - 1]:
            assert boxes[k][0] == boxes[k - 1][2]  # bars on one system tile it
        else:
            assert places[k] > places[k - 1]
    widths = [b[2] - b[0] for b in boxes]
    assert max(widths) < 3 * np.median(widths)
