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

from ugaar_kit.build.builder import BuildOptions, build_dataset, plan, song_clef
from ugaar_kit.build.engrave import engrave
from ugaar_kit.build.notation import choose_clef
from ugaar_kit.build.pages import engrave_song
from ugaar_kit.build.segment import join_lines, segment
from ugaar_kit.data.staves import find_systems
from ugaar_kit.interfaces.dataset import DatasetFolder
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


def test_whole_songs_train_on_page_windows_unless_told_not_to(whole, lmd_files, tmp_path):
    """Whole songs are built for identification, so their training songs' pages are cut into
    page windows by default (`dataset.json` records the choice made); `--no-train-page-windows`
    keeps passages only; asking for page windows without whole songs is an error."""
    from ugaar_kit_plugins.dataset_lmd.source import LmdLyricsSource

    from ugaar_kit.errors import UgaarError

    manifest = _rows(whole / "manifest.jsonl")
    train_songs = {s["song_id"] for s in _rows(whole / "songs.jsonl") if s["split"] == "train"}
    windows = [r for r in manifest if "page_window" in r]
    assert train_songs and {w["song_id"] for w in windows} == train_songs
    recorded = json.loads((whole / "dataset.json").read_text(encoding="utf-8"))["build_options"]
    assert recorded["train_page_windows"] is True

    off = BuildOptions(workers=1, whole_songs=True, train_page_windows=False)
    build_dataset(trimmed(LmdLyricsSource().songs([lmd_files]), 12), tmp_path / "off", off, progress=False)
    assert not [r for r in _rows(tmp_path / "off" / "manifest.jsonl") if "page_window" in r]
    assert len(_rows(tmp_path / "off" / "manifest.jsonl")) == len(manifest) - len(windows)

    assert BuildOptions().resolved().train_page_windows is False  # passages only, without whole songs
    with pytest.raises(UgaarError, match="add --whole-songs"):
        build_dataset([], tmp_path / "bad", BuildOptions(train_page_windows=True), progress=False)


def test_each_song_lists_its_passages_in_order_with_times_that_tile_its_recording(whole):
    manifest = _rows(whole / "manifest.jsonl")
    songs = _rows(whole / "songs.jsonl")
    assert [s["song_id"] for s in songs] == list(SONG_IDS)
    for song in songs:
        mine = [r for r in manifest if r["song_id"] == song["song_id"] and "page_window" not in r]
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


def test_each_system_is_laid_on_the_recording_by_its_noteheads(whole):
    """songs.jsonl's `clocks`: per page and system, a knot `[x, seconds]` at each notehead, left
    to right, at its note's onset, and one at the system's end; every passage starts on a knot
    inside its first box, and the song's clocks hold as many heads as its passages notes."""
    from dataclasses import replace

    from ugaar_kit.interfaces.dataset import read_songs, system_clock

    manifest = {r["id"]: r for r in _rows(whole / "manifest.jsonl")}
    for song, record in zip(read_songs(whole), _rows(whole / "songs.jsonl")):
        assert song.clocks == record["clocks"] and len(record["clocks"]) == len(record["pages"])
        heads = 0
        for page, systems in enumerate(record["clocks"], 1):
            assert len(systems) == len(record["systems"][page - 1])
            for system, knots in enumerate(systems, 1):
                x0, _, x1, _ = record["systems"][page - 1][system - 1]
                xs, ts = np.array([k[0] for k in knots]), np.array([k[1] for k in knots])
                assert np.all(np.diff(xs) > 0) and np.all(np.diff(ts) >= 0)
                assert x0 - 1 <= xs[0] and xs[-1] <= x1 + 1  # inside the system's box
                assert system_clock(record["passages"], page, system, record["clocks"]) == (list(xs), list(ts))
                # a song is read by the clock its build timed its page windows by (boxes by default)
                assert song.page_clock == "boxes"
                assert song.clock(page, system) == system_clock(record["passages"], page, system)
                assert replace(song, page_clock="notes").clock(page, system) == (list(xs), list(ts))
                heads += len(knots) - 1
        assert heads == sum(len(manifest[p["id"]]["notes"]) for p in record["passages"])
        for p in record["passages"]:
            first = p["spans"][0]
            xs, ts = system_clock(record["passages"], first["page"], first["system"], record["clocks"])
            at = [x for x, t in zip(xs, ts) if abs(t - p["start"]) < 1e-5]
            assert at and first["box"][0] <= at[0] <= first["box"][2], p["id"]


def test_a_clock_without_noteheads_lays_passage_boxes_on_their_times():
    """Songs built before `clocks` (and systems with none): each passage box spans its time."""
    from ugaar_kit.interfaces.dataset import system_clock

    passages = [
        {"start": 0.0, "end": 2.0, "page": 1, "system": 1, "box": [100, 0, 300, 50]},
        {"start": 2.0, "end": 6.0, "page": 1, "system": 1, "box": [300, 0, 700, 50]},
    ]
    assert system_clock(passages, 1, 1) == ([100.0, 300.0, 300.0, 700.0], [0.0, 2.0, 2.0, 6.0])
    assert system_clock(passages, 1, 1, [[[]]]) == system_clock(passages, 1, 1)
    assert system_clock(passages, 1, 1, [[[[120.0, 0.0], [200.0, 1.5], [700.0, 6.0]]]]) == (
        [120.0, 200.0, 700.0],
        [0.0, 1.5, 6.0],
    )


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


def test_training_windows_are_the_windows_a_query_is_cut_into(lmd_files, tmp_path):
    """`--train-windows 4`: each training song's recording as 4-s windows every 2 s, each with
    the score and lyrics of the passage at its midpoint; other splits get none; a re-run keeps them."""
    from ugaar_kit_plugins.dataset_lmd.source import LmdLyricsSource

    from ugaar_kit.build.windows import passage_at
    from ugaar_kit.interfaces.rows import cut_windows

    options = BuildOptions(
        workers=1, whole_songs=True, train_windows=4.0, train_page_windows=False, split=(0.34, 0.33, 0.33)
    )
    songs = lambda: trimmed(LmdLyricsSource().songs([lmd_files]), 12)  # noqa: E731
    summary = build_dataset(songs(), tmp_path, options, progress=False)
    manifest = _rows(tmp_path / "manifest.jsonl")
    passages = {r["id"]: r for r in manifest if "window" not in r}
    windows = [r for r in manifest if "window" in r]
    assert summary.train_windows == len(windows) > 0
    for song in _rows(tmp_path / "songs.jsonl"):
        mine = [w for w in windows if w["song_id"] == song["song_id"]]
        if song["split"] != "train":
            assert not mine
            continue
        recording, rate = sf.read(str(tmp_path / song["audio"]), dtype="int16")
        cuts = cut_windows(len(recording), rate, 4.0, 2.0)  # what embed cuts the recording into
        assert [w["window"] for w in mine] == [[round(a / rate, 6), round(b / rate, 6)] for a, b in cuts]
        assert mine[1]["window"][0] == 2.0
        spans = [(p["start"], p["end"]) for p in song["passages"]]
        for w in mine:
            start, end = w["window"]
            clip, clip_rate = sf.read(str(tmp_path / w["audio"]), dtype="int16")
            assert clip_rate == rate and 2.0 <= end - start <= 4.0 + 1e-6
            np.testing.assert_array_equal(clip, recording[round(start * rate) : round(end * rate)])
            own = passages[song["passages"][passage_at(spans, (start + end) / 2)]["id"]]
            assert w["window_of"] == own["id"] and w["id"].startswith(song["song_id"] + "-w")
            assert (w["sheet"], w["lyrics"], w["split"], w["song"]) == (
                own["sheet"],
                own["lyrics"],
                "train",
                own["song"],
            )
    stamps = {w["audio"]: (tmp_path / w["audio"]).stat().st_mtime_ns for w in windows}
    build_dataset(songs(), tmp_path, options, progress=False)
    assert {a: (tmp_path / a).stat().st_mtime_ns for a in stamps} == stamps


def test_a_window_takes_the_passage_at_its_midpoint():
    from ugaar_kit.build.windows import passage_at

    spans = [(0.0, 1.5), (1.5, 4.0), (4.0, 6.0)]
    assert [passage_at(spans, t) for t in (0.0, 1.49, 1.5, 3.9, 4.0, 9.0)] == [0, 0, 1, 1, 2, 2]


def test_training_page_windows_are_the_windows_identify_reads_a_page_with(whole, tmp_path):
    """`--train-page-windows --page-window-audio passage`: each window along each system of a
    training song's pages (found as a query page's are), as a PNG of the same pixels, with the
    passage printed at its middle (its recording too)."""
    import shutil

    from ugaar_kit.build.windows import training_page_windows
    from ugaar_kit.data.media import load_image
    from ugaar_kit.data.staves import PAGE_HOP, PAGE_WINDOW, find_systems, strip_windows, system_strip

    out = tmp_path / "ds"
    shutil.copytree(whole, out, ignore=shutil.ignore_patterns("windows"))  # cut afresh here
    songs = [{**s, "split": "train"} for s in _rows(out / "songs.jsonl")]
    rows = _rows(out / "manifest.jsonl")
    made = training_page_windows(out, songs[:1], rows, "passage")
    song = songs[0]
    expected = []
    for page in song["pages"]:
        image = load_image(out / page).numpy()
        for system in find_systems(image):
            strip = system_strip(image, system)
            expected += [strip[:, a:b] for a, b in strip_windows(strip, PAGE_WINDOW, PAGE_HOP)]
    assert len(made) == len(expected) > 2
    by_id = {r["id"]: r for r in rows}
    for row, want in zip(made, expected):
        np.testing.assert_array_equal(load_image(out / row["sheet"]).numpy(), want)
        page, system, x0, x1 = row["page_window"]
        passage = by_id[row["window_of"]]
        assert (row["audio"], row["lyrics"], row["split"]) == (passage["audio"], passage["lyrics"], "train")
        spans = next(p for p in song["passages"] if p["id"] == passage["id"]).get("spans")
        on = [s["box"] for s in spans if (s["page"], s["system"]) == (page, system)]
        middle = (x0 + x1) / 2
        assert on  # on that system; printed at the window's middle unless no passage is (then the nearest)
        others = [
            p
            for p in song["passages"]
            for s in p.get("spans") or []
            if (s["page"], s["system"]) == (page, system) and s["box"][0] <= middle < s["box"][2]
        ]
        assert not others or others[0]["id"] == passage["id"]
    assert training_page_windows(out, [{**songs[0], "split": "valid"}], rows) == []


def test_aligned_page_windows_sound_the_stretch_of_the_recording_their_notes_are_played_in(whole, tmp_path):
    """`--page-window-audio aligned` (the default): a page window's audio is the recording from where the
    system's clock (its noteheads' onsets) puts its left edge in time to where it puts its right edge, so
    a window over the end of one passage and the start of the next sounds both halves; the
    same windows and images as with the passage's audio, less those sounding under half a
    second; a second call keeps the clips."""
    import shutil

    from ugaar_kit.build.windows import MIN_ALIGNED, training_page_windows
    from ugaar_kit.interfaces.dataset import system_clock

    out = tmp_path / "ds"
    shutil.copytree(whole, out, ignore=shutil.ignore_patterns("windows"))  # cut afresh here
    song = {**_rows(out / "songs.jsonl")[0], "split": "train"}
    rows = _rows(out / "manifest.jsonl")
    passage_audio = training_page_windows(out, [song], rows, "passage")
    made = training_page_windows(out, [song], rows, "aligned", "flac", "notes")
    assert 2 < len(made) <= len(passage_audio)
    assert {r["id"] for r in made} <= {r["id"] for r in passage_audio}
    recording, rate = sf.read(str(out / song["audio"]), dtype="float32")
    straddling = 0
    for row in made:
        page, system, x0, x1 = row["page_window"]
        t0, t1 = row["window"]
        xs, ts = system_clock(song["passages"], page, system, song["clocks"])
        assert (t0, t1) == pytest.approx((np.interp(x0, xs, ts), np.interp(x1, xs, ts)), abs=1e-5)
        assert t1 - t0 >= MIN_ALIGNED and 0 <= t0 < t1 <= song["duration"] + 1e-6
        clip, clip_rate = sf.read(str(out / row["audio"]), dtype="float32")
        assert clip_rate == rate and len(clip) == round(t1 * rate) - round(t0 * rate)
        np.testing.assert_allclose(clip, recording[round(t0 * rate) : round(t1 * rate)], atol=1e-4)
        straddling += sum(1 for p in song["passages"] if p["start"] < t1 and t0 < p["end"]) > 1
    assert straddling > 0
    # the clock is monotone and runs from the first passage's start on the song's first system
    xs, ts = system_clock(song["passages"], 1, 1, song["clocks"])
    assert np.all(np.diff(xs) >= 0) and np.all(np.diff(ts) >= -1e-9) and ts[0] == song["passages"][0]["start"]
    # laid by the passage boxes instead (`--page-clock boxes`): the same windows, other times
    boxed = tmp_path / "boxed"
    shutil.copytree(whole, boxed, ignore=shutil.ignore_patterns("windows"))
    by_boxes = training_page_windows(boxed, [song], rows, "aligned", "flac")  # the default
    for row in by_boxes:
        page, system, x0, x1 = row["page_window"]
        xs, ts = system_clock(song["passages"], page, system)
        assert row["window"] == pytest.approx([np.interp(x0, xs, ts), np.interp(x1, xs, ts)], abs=1e-5)
    assert {r["id"] for r in by_boxes} & {r["id"] for r in made}
    assert [r["window"] for r in by_boxes] != [r["window"] for r in made]
    stamp = {r["audio"]: (out / r["audio"]).stat().st_mtime_ns for r in made}
    assert training_page_windows(out, [song], rows, "aligned", "flac", "notes") == made
    assert {r["audio"]: (out / r["audio"]).stat().st_mtime_ns for r in made} == stamp


def test_a_smaller_train_page_hop_cuts_more_windows_among_them_the_default_ones(whole, tmp_path):
    """`--train-page-hop 1.5`: windows as wide, twice as many, the default hop's among them."""
    import shutil

    from ugaar_kit.build.windows import training_page_windows

    out = tmp_path / "ds"
    shutil.copytree(whole, out, ignore=shutil.ignore_patterns("windows"))  # cut afresh here
    song = {**_rows(out / "songs.jsonl")[0], "split": "train"}
    rows = _rows(out / "manifest.jsonl")
    default = training_page_windows(out, [song], rows, "aligned", "flac", hop=3.0)
    shutil.rmtree(out / "windows")
    dense = training_page_windows(out, [song], rows, "aligned", "flac", hop=1.5)
    for r in default:  # each default window among the dense ones (steps rounded to pixels apart)
        page, system, x0, x1 = r["page_window"]
        assert any(d["page_window"][:2] == [page, system] and abs(d["page_window"][2] - x0) <= 2 for d in dense)
    assert 1.6 * len(default) < len(dense) < 2.4 * len(default)
    width = lambda made: {(tuple(r["page_window"][:2]), r["page_window"][3] - r["page_window"][2]) for r in made}  # noqa: E731
    assert width(dense) == width(default)  # each system's windows as wide as before


def test_train_page_widths_add_narrower_windows_beside_the_default_ones(whole, tmp_path):
    """`--train-page-width 6 --train-page-width 4`: the default windows, kept by name, and beside
    them windows 4 strip heights wide (2/3 as wide), named and identified apart, each timed on its
    own stretch of the recording."""
    import shutil

    from ugaar_kit.build.windows import training_page_windows

    out = tmp_path / "ds"
    shutil.copytree(whole, out, ignore=shutil.ignore_patterns("windows"))
    song = {**_rows(out / "songs.jsonl")[0], "split": "train"}
    rows = _rows(out / "manifest.jsonl")
    default = training_page_windows(out, [song], rows, "aligned", "flac")
    both = training_page_windows(out, [song], rows, "aligned", "flac", widths=(6.0, 4.0))
    narrow = [r for r in both if r["id"].endswith("x4")]
    assert [r for r in both if not r["id"].endswith("x4")] == default
    assert len(narrow) >= len(default) and len({r["id"] for r in both}) == len(both)
    assert all(r["sheet"].endswith("-x4.png") and (out / r["sheet"]).is_file() for r in narrow)
    wide: dict[tuple[int, int], int] = {}  # each system's widest default window: 6 strip heights
    for r in default:
        key = (r["page_window"][0], r["page_window"][1])
        wide[key] = max(wide.get(key, 0), r["page_window"][3] - r["page_window"][2])
    ratios = [
        (r["page_window"][3] - r["page_window"][2]) / wide[r["page_window"][0], r["page_window"][1]] for r in narrow
    ]
    # 2/3 as wide, but where a system's strip is shorter than 6 heights (one window, the strip)
    assert max(ratios) <= 1.0 and np.median(ratios) == pytest.approx(4 / 6, abs=0.01)
    assert all(r["window"][1] > r["window"][0] and r["audio"].endswith("-x4.flac") for r in narrow)
    # the narrower windows' stretches are shorter: they show fewer notes
    span = lambda made: np.median([r["window"][1] - r["window"][0] for r in made])  # noqa: E731
    assert span(narrow) < 0.85 * span(default)


def test_a_resumed_build_forgets_page_windows_cut_with_other_options(tmp_path):
    """Window files are kept by name on a resume; made with another hop, clock or pairing they
    would be kept wrong, so they go."""
    from ugaar_kit.build.windows import forget_page_windows

    kept = tmp_path / "windows" / "page" / "song" / "p01-s01-w00.png"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"x")
    options = BuildOptions(whole_songs=True)
    same = {"page_window_audio": "aligned", "page_clock": "boxes", "train_page_hop": 3.0}
    assert not forget_page_windows(tmp_path, {}, options)  # a first build
    assert not forget_page_windows(tmp_path, same, options) and kept.is_file()
    assert forget_page_windows(tmp_path, {**same, "train_page_hop": 1.5}, options) and not kept.exists()
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"x")
    # a build from before these options recorded neither: boxes, every 3
    assert not forget_page_windows(tmp_path, {"page_window_audio": "aligned"}, options)
    notes = BuildOptions(whole_songs=True, page_clock="notes")
    assert forget_page_windows(tmp_path, {"page_window_audio": "aligned"}, notes) and not kept.exists()


def test_training_windows_need_whole_songs(lmd_files, tmp_path):
    from ugaar_kit_plugins.dataset_lmd.source import LmdLyricsSource

    from ugaar_kit.errors import UgaarError

    with pytest.raises(UgaarError, match="add --whole-songs"):
        build_dataset(LmdLyricsSource().songs([lmd_files]), tmp_path / "x", BuildOptions(train_windows=5.0))
    assert not (tmp_path / "x").exists()


def _notes_height(image: np.ndarray) -> float:
    """Where the ink off the staff lines sits, in staff heights below the top line (0 the top
    line, 1 the bottom one): the notes' height on the staff, whatever the image's scale."""
    grey = np.asarray(image, dtype=np.float32) / 255.0
    (staff,) = find_systems(grey)
    ink = grey < 0.5
    ink[:, : staff.x0 + (staff.bottom - staff.top) * 2] = False  # past the clef and key
    lines = ink.mean(axis=1) > 0.5  # the staff lines' rows
    rows = np.flatnonzero(ink.any(axis=1) & ~lines)
    weights = ink[rows].sum(axis=1)
    return float((np.average(rows, weights=weights) - staff.top) / (staff.bottom - staff.top))


def test_a_passage_in_its_songs_clef_shows_its_notes_where_its_songs_pages_do(whole, lmd_files, tmp_path):
    # the first song is written in the treble-8vb clef; its first passage alone fits the treble
    # clef, which writes it an octave (7/8 of a staff height) lower than its song's pages do
    from ugaar_kit_plugins.dataset_lmd.source import LmdLyricsSource

    songs = list(trimmed(LmdLyricsSource().songs([lmd_files]), 12))
    passages = segment(songs[0], "line", 8, 1)
    assert song_clef(passages) == "treble-8vb" and choose_clef([n.pitch for n in passages[0].notes]).name == "treble"
    song = _rows(whole / "songs.jsonl")[0]
    first = song["passages"][0]
    page = np.asarray(Image.open(whole / song["pages"][first["page"] - 1]).convert("L"))
    x0, y0, x1, y1 = first["box"]
    on_page = _notes_height(page[y0:y1, :x1])  # from the system's start: its clef and key
    # the build's default: the passage's own clef, an octave off its page
    built = np.asarray(Image.open(whole / "sheet" / song["song_id"] / "000.png").convert("L"))
    assert _notes_height(built) - on_page > 0.6
    # in its song's clef (--clef song) it sits where the page has it
    assert abs(_notes_height(engrave(passages[0], 128, clef=song_clef(passages))) - on_page) < 0.2
    # and the build draws each passage in its song's clef when asked, recording the rule
    jobs = [p.job for p in plan(songs, tmp_path, BuildOptions(clef="song"))]
    assert {j.id: j.clef for j in jobs if j.id.startswith(song["song_id"])} == {
        f"{song['song_id']}-{i:03d}": "treble-8vb" for i in range(len(passages))
    }
    assert {p.job.clef for p in plan(songs, tmp_path, BuildOptions())} == {None}  # each its own
    assert DatasetFolder(whole).identity()["render"]["height"] == 128  # a run names how its images were drawn
