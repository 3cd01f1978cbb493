"""`ugaar-kit locate` and `eval --task identify/locate` (issue 21): a query aligned to a piece's
passages in order; the evaluation's figures on a small `--whole-songs` build."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ugaar_kit.build.builder import BuildOptions, build_dataset
from ugaar_kit.errors import InputError
from ugaar_kit.inference.embedding import embed_queries, gather_queries
from ugaar_kit.interfaces.score import Note, Passage, Song, Syllable
from ugaar_kit.retrieval.locate import align, locate, timeline
from ugaar_kit.retrieval.piece_eval import evaluate_pieces
from ugaar_kit.store.reader import Store
from ugaar_kit.store.tables import FileRows
from ugaar_kit.store.writer import StoreWriter
from ugaar_kit.testing.data import write_wav


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_align_finds_the_stretch_of_the_reference_a_query_is():
    rng = np.random.default_rng(0)
    ref = _unit(rng.standard_normal((20, 16)))
    query = _unit(ref[7:11] + 0.1 * rng.standard_normal((4, 16)))
    matched, cost = align(query, ref)
    assert matched.tolist() == [7, 8, 9, 10] and cost < 0.2
    # a query twice as slow as the reference: two vectors a passage, in order
    slow = _unit(np.repeat(ref[3:6], 2, axis=0) + 0.05 * rng.standard_normal((6, 16)))
    assert align(slow, ref)[0].tolist() == [3, 3, 4, 4, 5, 5]


def test_timeline_lays_timed_windows_on_the_scores_timing():
    rng = np.random.default_rng(3)
    ref = _unit(rng.standard_normal((12, 16)))  # twelve passages of 3 s each
    starts, ends = np.arange(12) * 3.0, np.arange(12) * 3.0 + 3.0
    # windows of 3 s every 1.5 s over 9 s of the score from 13.5 s: each a mix of the passages it covers
    spans = [(a, a + 3.0) for a in (0.0, 1.5, 3.0, 4.5, 6.0)]
    query = []
    for a, b in spans:
        lo, hi = 13.5 + a, 13.5 + b
        cover = np.clip(np.minimum(hi, ends) - np.maximum(lo, starts), 0, None)
        query.append(cover @ ref + 0.05 * rng.standard_normal(16))
    offset, tempo, cost = timeline(_unit(np.array(query)), spans, [(ref, starts, ends)])
    assert abs(offset - 13.5) <= 0.2 and tempo == 1.0


def test_timeline_reads_overlapping_references_at_each_windows_centre():
    """Page windows overlap (each over half of the next): each query window is scored by the
    references centred nearest its centre, so windows land where their own references are,
    where weighting by cover would average the two or three under each window."""
    from ugaar_kit.retrieval.locate import overlapping, timeline_fit

    starts = np.arange(20) * 2.0  # twenty references of 4 s every 2 s
    ends = starts + 4.0
    assert overlapping(starts, ends) and not overlapping(np.arange(5) * 3.0, np.arange(5) * 3.0 + 3.0)
    spans = [(2.0 * i, 2.0 * i + 4.0) for i in range(4)]  # a query of four such windows, from 10 s
    sims = np.zeros((4, 20))
    for q in range(4):
        sims[q, 5 + q] = 1.0  # window q, centred at 12 + 2q s, is the reference centred there
    fit, offset, tempo = timeline_fit(sims, spans, starts, ends)
    assert offset == pytest.approx(10.0, abs=1e-6) and fit == pytest.approx(1.0)


def test_the_cuts_share_of_the_fit_decides_between_two_places_they_disagree_on():
    """Where the fixed windows favour one offset and the cuts another, `extra_weight` decides:
    the cuts' place from a share above the windows' lead over them, the windows' place below;
    `timeline` gives the cuts `CUT_WEIGHT`."""
    from ugaar_kit.retrieval.locate import CUT_WEIGHT, timeline_fit

    starts = np.arange(20) * 2.0
    ends = starts + 4.0
    spans = [(2.0 * i, 2.0 * i + 4.0) for i in range(4)]
    sims = np.zeros((4, 20))
    for q in range(4):
        sims[q, 5 + q] = 1.0  # the windows say 10 s

    def extra(offsets: np.ndarray, tempo: float) -> np.ndarray:
        return np.where(np.abs(offsets - 20.0) < 1e-6, 0.6, 0.0)  # the cuts say 20 s, less surely

    at = {w: timeline_fit(sims, spans, starts, ends, extra=extra, extra_weight=w)[1] for w in (0.0, 0.5, 0.7, 1.0)}
    assert at[0.0] == pytest.approx(10.0) and at[0.5] == pytest.approx(10.0)  # 0.5 * 1 > 0.5 * 0.6
    assert at[0.7] == pytest.approx(20.0) and at[1.0] == pytest.approx(20.0)  # 0.7 * 0.6 > 0.3 * 1
    assert 0.5 < CUT_WEIGHT < 1.0


def test_readings_of_a_piece_are_averaged_where_they_disagree():
    """Two readings of one score (pages read in windows of two widths): where one places the
    query at 10 s and the other, more surely, at 20 s, their average places it at 20 s; each
    alone places it where it says."""
    from ugaar_kit.retrieval.locate import timeline

    rng = np.random.default_rng(3)
    starts = np.arange(20) * 2.0
    ends = starts + 4.0
    spans = [(2.0 * i, 2.0 * i + 4.0) for i in range(4)]
    query = _unit(rng.standard_normal((4, 16)))
    noise = lambda: _unit(rng.standard_normal((20, 16)))  # noqa: E731
    one, two = noise(), noise()
    one[5:9] = _unit(query + 0.6 * _unit(rng.standard_normal((4, 16))))  # reading one: like it at 12..18 s (offset 10)
    two[10:14] = query  # reading two: the query's windows themselves, at 22..28 s (offset 20)
    at = lambda *readings: timeline(query, spans, list(readings))[0]  # noqa: E731
    assert at((one, starts, ends)) == pytest.approx(10.0, abs=0.15)
    assert at((two, starts, ends)) == pytest.approx(20.0, abs=0.15)
    assert at((one, starts, ends), (two, starts, ends)) == pytest.approx(20.0, abs=0.15)


def _dataset(root: Path, songs: dict[str, int]) -> Path:
    """A dataset folder by hand: songs of n passages, one system each of a one-page score."""
    rows, whole = [], []
    for sid, n in songs.items():
        passages = []
        for i in range(n):
            pid = f"{sid}-{i:03d}"
            rows.append(
                {
                    "id": pid,
                    "song": sid,
                    "split": "test",
                    "audio": f"audio/{sid}/{i:03d}.wav",
                    "sheet": f"sheet/{sid}/{i:03d}.png",
                    "lyrics": "la la",
                }
            )
            box = [10, 100 * i, 500, 100 * i + 90]
            passages.append(
                {"id": pid, "start": 4.0 * i, "end": 4.0 * i + 4, "page": 1, "system": i + 1, "box": box, "spans": []}
            )
        whole.append(
            {
                "song": sid,
                "song_id": sid,
                "split": "test",
                "audio": f"songs/{sid}/audio.wav",
                "duration": 4.0 * n,
                "pages": [f"songs/{sid}/page-01.png"],
                "systems": [[[10, 100 * i, 500, 100 * i + 90] for i in range(n)]],
                "passages": passages,
            }
        )
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "songs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in whole))
    return root


def _sheet_store(path: Path, run_id: str, rows: dict[str, np.ndarray]) -> Path:
    with StoreWriter(path, run_id=run_id, settings={"window": 5.0, "hop": 2.5}) as w:
        w.add_files("sheet", [FileRows(s, 1, 0.0, [s], v.astype(np.float32)) for s, v in rows.items()])
        w.add_files("audio", [FileRows("audio/S/000.wav", 1, 0.0, ["a"], next(iter(rows.values())).astype(np.float32))])
    return path


def _rows(rng: np.random.Generator, dim: int, true: dict[int, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Sheet rows of songs S (10 passages) and T (6): random, but S's passages `true` given."""
    out = {}
    for sid, n in (("S", 10), ("T", 6)):
        for i in range(n):
            v = rng.standard_normal((1, dim))
            if sid == "S" and true and i in true:
                v = true[i][None]
            out[f"sheet/{sid}/{i:03d}.png"] = v
    return out


def test_locate_names_the_passage_at_the_querys_middle_and_where_it_is_printed(run, tmp_path):
    rng = np.random.default_rng(1)
    data = _dataset(tmp_path / "ds", {"S": 10, "T": 6})
    rows = _rows(rng, 16)
    store = _sheet_store(tmp_path / "s.h5", run.run_id, rows)
    query = np.concatenate([rows[f"sheet/S/{i:03d}.png"] for i in (3, 4, 5)]) + 0.05 * rng.standard_normal((3, 16))
    with Store(store) as st:
        found = locate(st, query, "S", data)
    assert (found.passage, found.index, found.passages, found.first, found.last) == ("S-004", 4, 10, "S-003", "S-005")
    assert (found.page, found.system, found.box) == (1, 5, [10, 400, 500, 490])
    with Store(store) as st, pytest.raises(InputError, match="piece 'nope' is not in its songs.jsonl"):
        locate(st, query, "nope", data)


def test_a_piece_whose_score_pages_are_stored_is_located_on_their_windows(run, tmp_path):
    """With its page stored as windows along its systems (`page=...#system=N&x=X0-X1` rows, as
    `embed` cuts a page), a piece is played as those windows in reading order, each sounding
    where its edges fall on the score's timing; a query is located on them, and the answer is
    the passage sounding at the query's middle, as with passages."""
    from ugaar_kit.interfaces.dataset import read_songs
    from ugaar_kit.retrieval.played import PieceRows, played

    rng = np.random.default_rng(4)
    data = _dataset(tmp_path / "ds", {"S": 10, "T": 6})  # S: 10 passages of 4 s, one system each, x 10..500
    rows = _rows(rng, 16)
    windows = {}
    for system in range(1, 11):  # two windows a system: x 10..300 and 200..500
        for x0, x1 in ((10, 300), (200, 500)):
            windows[f"songs/S/page-01.png#system={system}&x={x0}-{x1}"] = rng.standard_normal((1, 16))
    path = tmp_path / "s.h5"
    with StoreWriter(path, run_id=run.run_id, settings={"window": 5.0, "hop": 2.5}) as w:
        w.add_files("sheet", [FileRows(s, 1, 0.0, [s], v.astype(np.float32)) for s, v in rows.items()])
        w.add_files(
            "sheet",
            [
                FileRows(
                    "songs/S/page-01.png",
                    1,
                    0.0,
                    list(windows),
                    np.concatenate(list(windows.values())).astype(np.float32),
                )
            ],
        )
    song = next(s for s in read_songs(data) if s.song == "S")
    with Store(path) as st:
        order = played(song, PieceRows(st, "sheet", data))
        assert order is not None and len(order.rows) == 20
        ids = st.ids("sheet")[order.rows].tolist()
        assert ids == list(windows)  # reading order: system by system, left to right
        np.testing.assert_allclose(order.starts[:2], [0.0, 4.0 * 190 / 490], atol=1e-6)
        np.testing.assert_allclose(order.ends[:2], [4.0 * 290 / 490, 4.0], atol=1e-6)
        # a query of 10 s from 12 s: the windows printed on systems 4 and 5 (passages 3 and 4),
        # and the first of system 6, a window every 2 s
        query = np.concatenate([windows[k] for k in list(windows)[6:11]]) + 0.05 * rng.standard_normal((5, 16))
        spans = [(2.0 * i, 2.0 * i + 2.0) for i in range(5)]
        found = locate(st, query, "S", data, spans=spans)
    assert (found.passage, found.first, found.last) == ("S-004", "S-003", "S-005")
    assert (found.page, found.system) == (1, 5)


def _excerpt_of_s(run, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A 10-s recording (three windows of 5 s every 2.5 s), a dataset of songs S (10 passages of
    4 s) and T (6), and a store whose sheet rows of S's passages 3 to 5 are the recording's windows."""
    wav = write_wav(tmp_path / "excerpt.wav", 10.0, seed=5)
    windows = np.stack([e.vector for e in embed_queries(run, gather_queries(run, [wav])[0], window=5.0, hop=2.5)])
    data = _dataset(tmp_path / "ds", {"S": 10, "T": 6})
    rows = _rows(np.random.default_rng(2), windows.shape[1], {3: windows[0], 4: windows[1], 5: windows[2]})
    return wav, data, _sheet_store(tmp_path / "s.h5", run.run_id, rows)


def test_the_locate_command_prints_where_the_query_is(run, run_dir, cli, tmp_path):
    wav, data, store = _excerpt_of_s(run, tmp_path)
    r = cli("locate", wav, "--piece", "S", "--index", store, "--run", run_dir, "--data", data, "--json")
    assert r.exit_code == 0, r.output
    found = json.loads(r.stdout)
    # the test encoder's windows of one tone point almost the same way: any of the three is right
    assert found["passage"] in {"S-003", "S-004", "S-005"} and found["query_modality"] == "audio"
    assert (found["page"], found["system"]) == (1, found["index"] + 1)
    r = cli("locate", wav, "--piece", "S", "--index", store, "--run", run_dir, "--data", data)
    assert r.exit_code == 0 and f"passage {found['passage']} ({found['index'] + 1} of 10): page 1" in " ".join(
        r.stdout.split()
    )
    r = cli("locate", wav, "--piece", "nope", "--index", store, "--run", run_dir, "--data", data)
    assert r.exit_code != 0 and "piece 'nope' is not in its songs.jsonl" in r.output
    r = cli("locate", wav, "--piece", "S", "--index", store, "--run", run_dir, "--data", data, "--target", "audio")
    assert r.exit_code != 0 and "located in another modality" in r.output
    (data / "songs.jsonl").unlink()
    r = cli("locate", wav, "--piece", "S", "--index", store, "--run", run_dir, "--data", data)
    assert r.exit_code != 0 and "--whole-songs" in r.output


def test_identify_lays_an_excerpt_on_each_pieces_timing_when_the_dataset_gives_it(run, run_dir, cli, tmp_path):
    wav, data, store = _excerpt_of_s(run, tmp_path)
    r = cli("identify", wav, "--index", store, "--run", run_dir, "--data", data, "--json")
    assert r.exit_code == 0, r.output
    found = json.loads(r.stdout)
    assert found["aggregate"] == "timeline" and found["pieces"][0]["piece"] == "S"
    r = cli("identify", wav, "--index", store, "--run", run_dir, "--aggregate", "timeline")
    assert r.exit_code != 0 and "--aggregate timeline needs --data" in " ".join(r.output.split())
    r = cli(
        "identify", "--text", "la la", "--index", store, "--run", run_dir, "--data", data, "--aggregate", "timeline"
    )
    assert r.exit_code != 0 and "--aggregate timeline needs a recording" in " ".join(r.output.split())


def _songs(n: int) -> list[Song]:
    out = []
    for s in range(n):
        passages = []
        for k in range(6):
            notes = [Note(55 + (s * 3 + k * 5 + i * 2) % 20, float(i), 1.0) for i in range(4)]
            letters = "bdfgklmnprst"
            words = [f"{letters[s]}a{letters[k]}o{letters[i]}" for i in range(4)]  # no line shared by two songs
            passages.append(Passage(notes, [Syllable(w, i) for i, w in enumerate(words)]))
        out.append(Song(f"song{s}", passages, title=f"Song {s}"))
    return out


@pytest.fixture(scope="module")
def whole_ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pieces")
    build_dataset(_songs(6), out, BuildOptions(workers=1, whole_songs=True, split=(0.5, 0.17, 0.33)), progress=False)
    return out


def test_evaluate_pieces_reports_every_kind_of_query_on_the_test_songs(run, whole_ds, tmp_path):
    result = evaluate_pieces(run, whole_ds, excerpts=2, excerpt_seconds=6.0, seed=3, store=tmp_path / "e.h5")
    test_songs = [json.loads(line) for line in (whole_ds / "songs.jsonl").read_text().splitlines()]
    test_songs = [s for s in test_songs if s["split"] == "test"]
    assert result["songs"] == len(test_songs) >= 1 and result["pieces"] == 6
    ident = result["identify"]
    assert ident["recording"]["queries"] == len(test_songs)
    assert ident["excerpt"]["queries"] == 2 * len(test_songs)
    assert ident["page"]["queries"] == sum(len(s["pages"]) for s in test_songs)
    assert ident["lyrics"]["queries"] == len(test_songs)  # the run has a lyrics encoder
    for row in ident.values():
        assert 0 <= row["top1"] <= row["top5"] <= 1 and 1 / 6 - 1e-9 <= row["MRR"] <= 1
    assert {"sequence", "timeline"} & set(result["settings"]["aggregates_used"])  # ordered, timed queries
    assert result["locate"]["queries"] == 2 * len(test_songs)
    assert 0 <= result["locate"]["passage"] <= result["locate"]["system"] <= 1
    again = evaluate_pieces(run, whole_ds, excerpts=2, excerpt_seconds=6.0, seed=3, store=tmp_path / "e.h5")
    assert again == result  # seeded excerpts, a resumed store: the same figures


def test_eval_of_pieces_needs_whole_songs(run, tmp_path):
    data = _dataset(tmp_path / "ds", {"S": 3})
    (data / "songs.jsonl").unlink()
    with pytest.raises(Exception, match="--whole-songs"):
        evaluate_pieces(run, data)
    with pytest.raises(Exception, match="unknown task"):
        evaluate_pieces(run, data, tasks=("find",))


def test_cut_fit_reads_each_score_window_from_the_query_cut_at_its_span():
    """Page windows last 2 to 6 s; the query is cut at each one's span wherever it is tried, each
    cut once (the edges on a grid shared by the offsets), and the offset whose cuts match the
    windows they are cut for wins, even where the query's fixed windows say nothing."""
    from ugaar_kit.retrieval.locate import CUT_GRID, cut_fit, timeline

    rng = np.random.default_rng(7)
    durations = rng.uniform(2.0, 6.0, 30)
    starts = np.concatenate([[0.0], np.cumsum(durations / 2)[:-1]])  # each window over half of the next
    ends = starts + durations
    ref = _unit(rng.standard_normal((30, 16)))
    truth = float(starts[9]) + 0.3  # the query's 10 s start here on the score
    asked: list[tuple[float, float]] = []

    def cuts(spans):
        asked.extend(spans)
        out = []
        for a, b in spans:  # a cut is the window whose span it is, at the true offset; else noise
            d = np.abs(starts - truth - a) + np.abs(ends - truth - b)
            out.append(ref[int(np.argmin(d))] if d.min() < 2 * CUT_GRID else rng.standard_normal(16))
        return _unit(np.array(out))

    score = lambda z: z @ ref.T  # noqa: E731
    offsets = np.arange(0.0, float(ends.max()) - 10.0, 0.1)
    fit = cut_fit(cuts, score, 10.0, starts, ends, offsets)
    assert abs(offsets[int(np.nanargmax(fit))] - truth) <= 0.2
    assert len(asked) == len(set(asked))  # each cut embedded once for every offset
    grid = np.array(asked) / CUT_GRID
    assert np.allclose(grid, np.round(grid)) and min(a for a, _ in asked) >= 0 and max(b for _, b in asked) <= 10.0
    # windows of noise: the cuts alone place the query
    spans = [(a, a + 3.5) for a in (0.0, 1.75, 3.5, 5.25, 6.5)]
    noise = _unit(rng.standard_normal((5, 16)))
    offset, _, _ = timeline(noise, spans, [(ref, starts, ends)], cuts=cuts)
    assert abs(offset - truth) <= 0.2
    # no score window lies in a query shorter than every window: no cut is read
    assert np.isnan(cut_fit(cuts, score, 1.0, starts, ends, offsets)).all()


def test_query_cuts_embed_a_stretch_as_the_window_of_that_stretch(run, tmp_path):
    from ugaar_kit.inference.embedding.cuts import CUT_MAX_SECONDS, query_cuts

    wav = write_wav(tmp_path / "q.wav", 10.0, seed=4)
    windows = embed_queries(run, gather_queries(run, [wav])[0], window=5.0, hop=2.5)
    cuts = query_cuts(run, wav, "audio", 10.0)
    assert cuts is not None
    z = cuts([(0.0, 5.0), (2.5, 7.5), (0.0, 5.0)])
    expected = _unit(np.stack([windows[0].vector, windows[1].vector]))
    assert np.allclose(z[:2], expected, atol=1e-4) and np.array_equal(z[0], z[2])
    assert len(cuts.kept) == 2  # each stretch embedded once
    assert query_cuts(run, wav, "audio", CUT_MAX_SECONDS + 1) is None  # a long recording is not cut


def test_a_recording_is_located_on_the_pages_read_anew_when_a_reader_gives_them(run, tmp_path):
    """With `pages` (a page's path -> its windows and unit vectors: `ScorePages`, narrower than
    the stored ones) a recording is laid on the piece's pages as read, in reading order and
    timed by the clock, whatever order the reader gives them in; stored rows that would place it
    elsewhere are not read. A reader that cannot read a page (None) leaves the stored rows."""
    from ugaar_kit.interfaces.dataset import read_songs
    from ugaar_kit.retrieval.played import pages_read

    rng = np.random.default_rng(7)
    data = _dataset(tmp_path / "ds", {"S": 10, "T": 6})  # S: 10 passages of 4 s, one system each, x 10..500
    read = [(system, x0, x0 + 245) for system in range(1, 11) for x0 in (10, 255)]  # 2 s each
    vectors = _unit(rng.standard_normal((len(read), 16)))
    shuffled = rng.permutation(len(read))
    page = (data / "songs/S/page-01.png").resolve()

    def reader(path: Path):
        return [([read[i] for i in shuffled], vectors[shuffled])] if Path(path).resolve() == page else None

    song = next(s for s in read_songs(data) if s.song == "S")
    got = pages_read(song, reader)
    assert got is not None and len(got) == 1
    np.testing.assert_allclose(got[0][0], vectors)  # reading order: system by system, left to right
    np.testing.assert_allclose(got[0][1].starts[:3], [0.0, 2.0, 4.0], atol=1e-6)
    np.testing.assert_allclose(got[0][1].ends[:3], [2.0, 4.0, 6.0], atol=1e-6)
    assert pages_read(song, lambda path: None) is None

    # 10 s from 8 s: the read windows 4 to 8 (passages 2 to 4); the stored snippets of passages
    # 7 to 9 hold the same vectors, so the stored rows place it at 28 s
    query = vectors[4:9] + 0.05 * rng.standard_normal((5, 16))
    stored = _rows(rng, 16, {7: _unit(vectors[4:6].mean(0)), 8: _unit(vectors[6:8].mean(0)), 9: vectors[8]})
    store = _sheet_store(tmp_path / "s.h5", run.run_id, stored)
    spans = [(2.0 * i, 2.0 * i + 2.0) for i in range(5)]
    with Store(store) as st:
        found = locate(st, query, "S", data, spans=spans, pages=reader)
        assert (found.passage, found.first, found.last) == ("S-003", "S-002", "S-004")
        kept = locate(st, query, "S", data, spans=spans, pages=lambda path: None)
        assert kept == locate(st, query, "S", data, spans=spans) and kept.passage == "S-008"
