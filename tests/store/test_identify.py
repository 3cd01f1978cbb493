"""`ugaar-kit identify` (issue 21): the pieces a recording, a page or lyrics come from, by the
votes of their vectors' nearest rows of another modality; on stores whose answer is known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ugaar_kit.build.engrave import png_bytes, render_page
from ugaar_kit.build.pages import engrave_song
from ugaar_kit.build.segment import join_lines
from ugaar_kit.data.staves import find_systems, strip_windows, system_strip
from ugaar_kit.inference.embedding import embed_queries, gather_queries
from ugaar_kit.inference.embedding.query import page_windows
from ugaar_kit.interfaces.score import Note, Passage, Syllable
from ugaar_kit.retrieval.identify import dataset_pieces, rank_pieces, row_pieces
from ugaar_kit.retrieval.search import Hit
from ugaar_kit.store.tables import FileRows
from ugaar_kit.store.writer import StoreWriter
from ugaar_kit.testing.data import write_wav


def _hit(i: str, score: float, rank: int = 1) -> Hit:
    return Hit("sheet", rank, i, score, i)


def test_votes_rank_the_piece_most_hits_belong_to():
    piece_of = {"a1": "A", "a2": "A", "b1": "B", "c1": "C"}
    hits = [[_hit("b1", 0.9), _hit("a1", 0.8)], [_hit("a2", 0.7), _hit("c1", 0.6)], [_hit("a1", 0.5), _hit("b1", 0.4)]]
    ranked = rank_pieces(hits, piece_of, "counts")
    assert [p.piece for p in ranked] == ["A", "B", "C"]
    assert [p.votes for p in ranked] == [3, 2, 1]
    assert ranked[0].score == pytest.approx(3 / 6) and ranked[0].best.id == "a1"
    # votes: a piece's votes over its number of rows (chance votes grow with it)
    ranked = rank_pieces(hits, piece_of, "votes", sizes={"A": 30, "B": 4, "C": 1})
    assert [p.piece for p in ranked] == ["C", "B", "A"]
    with pytest.raises(ValueError, match="sizes"):
        rank_pieces(hits, piece_of, "votes")
    # similarity: the sum of each vector's best cosine per piece, over the vectors
    ranked = rank_pieces(hits, piece_of, "similarity")
    scores = {p.piece: p.score for p in ranked}
    assert scores == pytest.approx({"A": (0.8 + 0.7 + 0.5) / 3, "B": (0.9 + 0.4) / 3, "C": 0.6 / 3})
    with pytest.raises(ValueError, match="unknown aggregate"):
        rank_pieces(hits, piece_of, "mean")  # type: ignore[arg-type]


def test_a_tie_in_votes_goes_to_the_piece_with_the_best_hit():
    ranked = rank_pieces([[_hit("a", 0.5), _hit("b", 0.9)]], {"a": "A", "b": "B"}, "counts")
    assert [p.piece for p in ranked] == ["B", "A"]


def test_a_rows_piece_comes_from_the_dataset_or_else_its_folder(tmp_path):
    rows = [
        {"id": "s1-000", "song": "S", "split": "test", "audio": "audio/s1/000.flac", "sheet": "sheet/s1/000.png"},
        {"id": "s2-000", "song": "S", "split": "test", "audio": "audio/s2/000.flac", "sheet": "sheet/s2/000.png"},
    ]
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    song = {"song": "S", "song_id": "s1", "audio": "songs/s1/audio.flac", "pages": ["songs/s1/page-01.png"]}
    (tmp_path / "songs.jsonl").write_text(json.dumps(song) + "\n")
    table = dataset_pieces(tmp_path)
    assert table["sheet/s2/000.png"] == table["songs/s1/page-01.png"] == "S"  # two versions: one piece
    pieces = row_pieces(["sheet/s1/000.png", "data/audio/s2/000.flac", "other/x/y.png", "loose.wav"], table)
    assert pieces.tolist() == ["S", "S", "x", "loose"]
    with pytest.raises(Exception, match="not a dataset folder"):
        dataset_pieces(tmp_path / "nowhere")


def _page(tmp_path: Path, bars: int = 40) -> Path:
    passages = [
        Passage([Note(60 + (k % 7) + i, float(i), 1.0) for i in range(4)], [Syllable("la", i) for i in range(4)])
        for k in range(bars)
    ]
    engraved = engrave_song(join_lines(passages), [4 * k for k in range(bars)])
    path = tmp_path / "page.png"
    path.write_bytes(png_bytes(render_page(engraved.pages[0].svg)))
    return path


def test_systems_are_found_on_an_engraved_page(tmp_path):
    passages = [Passage([Note(62, float(i), 1.0) for i in range(4)], []) for _ in range(60)]
    engraved = engrave_song(join_lines(passages), [4 * k for k in range(60)])
    page = render_page(engraved.pages[0].svg).astype(np.float32) / 255
    found = find_systems(page)
    truth = engraved.system_boxes()[0]
    assert len(found) == len(truth) >= 3
    for s, t in zip(found, truth):
        assert all(abs(a - b) <= 3 for a, b in zip(s.box, t))
    strip = system_strip(page, found[0])
    windows = strip_windows(strip, 6.0, 3.0)
    h = strip.shape[0]
    assert windows[0][0] == 0 and windows[-1][1] == strip.shape[1]
    assert all(b - a == round(6 * h) for a, b in windows)
    assert find_systems(np.ones((200, 300), np.float32)) == []  # a blank page


def test_embed_cuts_a_page_of_printed_music_into_the_windows_a_page_query_is_read_with(tmp_path):
    """A greyscale image taller than wide with staves is a page: `file_rows` gives the windows
    `windows_of_page` cuts (fragments `system=N&x=X0-X1`, the page's pixels), as a page query is
    read; a passage snippet (a strip wider than tall) and a blank portrait image stay one row."""
    from ugaar_kit.data.media import load_image
    from ugaar_kit.data.staves import windows_of_page
    from ugaar_kit.interfaces.rows import file_rows, page_rows

    class Images:
        def load_item(self, path: Path):
            return load_image(path)

    page = _page(tmp_path)
    rows = file_rows(Images(), page, 5.0, 2.5)
    image = load_image(page).numpy()
    cut = list(windows_of_page(image))
    assert len(rows.raws) == len(cut) > 6 and len({w.number for w in cut}) >= 3
    for raw, w, fragment in zip(rows.raws, cut, rows.fragments):
        np.testing.assert_array_equal(raw.numpy(), w.pixels)
        assert fragment == f"system={w.number}&x={w.staff.x0 + w.x0}-{w.staff.x0 + w.x1}"
    strip = image[cut[0].staff.y0 : cut[0].staff.y1, :]  # one system: wider than tall
    assert page_rows(strip) is None and page_rows(np.ones((400, 300), np.float32)) is None


def test_score_pages_reads_a_page_in_locates_windows_once(run, tmp_path):
    """`ScorePages` reads a page in `locate`'s windows, one reading a width (`LOCATE_WINDOWS`
    strip heights every `LOCATE_HOP`: more and narrower than the windows a store holds a page
    as), each window `(system, x0, x1)` in the page's pixels with its unit vector as the run
    embeds that window; a page read again is not embedded again; a missing file or an image
    without staves gives None (`locate` then reads the stored windows)."""
    from ugaar_kit.data.media import load_image
    from ugaar_kit.data.staves import LOCATE_HOP, LOCATE_WINDOWS, windows_of_page
    from ugaar_kit.inference.embedding.score import ScorePages

    page = _page(tmp_path)
    image = load_image(page).numpy()
    pages = ScorePages(run)
    read = pages(page)
    assert read is not None and len(read) == len(LOCATE_WINDOWS) == 2
    for width, (windows, vectors) in zip(LOCATE_WINDOWS, read):
        cut = list(windows_of_page(image, width, LOCATE_HOP))
        assert len(cut) > len(list(windows_of_page(image))) > 6
        assert windows == [(w.number, w.staff.x0 + w.x0, w.staff.x0 + w.x1) for w in cut]
        assert vectors.shape == (len(cut), run.objective.shared_dim)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        one = page_windows(run, page, window=width, hop=LOCATE_HOP)[3].vector
        np.testing.assert_allclose(vectors[3], one / np.linalg.norm(one), atol=1e-5)
    assert len(read[1][0]) > len(read[0][0])  # the narrower reading has more windows
    assert pages(page) is read  # kept
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((400, 300), 255, np.uint8)).save(blank)
    assert pages(blank) is None and pages(tmp_path / "missing.png") is None


def _store(path: Path, run_id: str, rows: dict[str, dict[str, np.ndarray]]) -> Path:
    """A store whose rows of each modality are the given vectors: {modality: {source: (n, D)}}."""
    with StoreWriter(path, run_id=run_id) as w:
        for modality, files in rows.items():
            w.add_files(
                modality,
                [
                    FileRows(src, 1, 0.0, [f"{src}#{i}" for i in range(len(v))], v.astype(np.float32))
                    for src, v in files.items()
                ],
            )
    return path


def test_identify_finds_the_piece_whose_rows_are_a_querys_vectors(run, run_dir, cli, tmp_path):
    rng = np.random.default_rng(0)
    recording = write_wav(tmp_path / "q" / "take.wav", 12.0, seed=3)
    page = _page(tmp_path / "q")
    lyrics = tmp_path / "q" / "words.txt"
    lyrics.write_text("the river runs\nand on we go tonight\n")
    windows = np.stack([e.vector for e in embed_queries(run, gather_queries(run, [recording])[0], window=5.0, hop=2.5)])
    page_vectors = np.stack([e.vector for e in page_windows(run, page)])
    line_vectors = np.stack([e.vector for e in embed_queries(run, gather_queries(run, lines=lyrics)[0])])
    dim = windows.shape[1]

    def noisy(v: np.ndarray) -> np.ndarray:
        return v + 0.05 * np.abs(v).mean() * rng.standard_normal(v.shape)

    sheet = {f"sheet/p{k}/{i:03d}.png": rng.standard_normal((1, dim)) for k in range(6) for i in range(4)}
    sheet |= {f"sheet/p3/{100 + i}.png": noisy(v[None]) for i, v in enumerate(windows)}
    audio = {f"audio/p{k}/{i:03d}.wav": rng.standard_normal((1, dim)) for k in range(6) for i in range(4)}
    audio |= {f"audio/p2/{100 + i}.wav": noisy(v[None]) for i, v in enumerate(page_vectors)}
    audio |= {f"audio/p5/{200 + i}.wav": noisy(v[None]) for i, v in enumerate(line_vectors)}
    store = _store(tmp_path / "s.h5", run.run_id, {"sheet": sheet, "audio": audio})

    r = cli("identify", recording, page, lyrics, "--index", store, "--run", run_dir, "--json", "-k", "3")
    assert r.exit_code == 0, r.output
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(o["query_modality"], o["target"]) for o in out] == [
        ("audio", "sheet"),
        ("sheet", "audio"),
        ("lyrics", "audio"),
    ]
    assert [o["pieces"][0]["piece"] for o in out] == ["p3", "p2", "p5"]
    assert out[0]["vectors"] == len(windows) and out[1]["vectors"] == len(page_vectors)
    r = cli(
        "identify", "--text", "the river runs", "--text", "and on we go tonight", "--index", store, "--run", run_dir
    )
    assert r.exit_code == 0 and "p5" in r.stdout


def test_a_page_is_matched_in_order_against_a_store_of_recordings_in_windows(run, run_dir, cli, tmp_path):
    """A store holding recordings in windows (rows with times): `auto` aligns a page's windows,
    in reading order, with the best stretch of each piece's recording (`sequence`); the page's
    music sits in the middle of p2's recording."""
    rng = np.random.default_rng(1)
    page = _page(tmp_path)
    page_vectors = np.stack([e.vector for e in page_windows(run, page)])
    dim = page_vectors.shape[1]

    def recording(source: str, vectors: np.ndarray) -> FileRows:
        starts = [2.5 * i for i in range(len(vectors))]
        ids = [f"{source}#t={t:g}-{t + 5:g}" for t in starts]
        return FileRows(source, 1, 0.0, ids, vectors.astype(np.float32), starts, [t + 5.0 for t in starts])

    noise = 0.05 * np.abs(page_vectors).mean()
    middle = page_vectors + noise * rng.standard_normal(page_vectors.shape)
    with StoreWriter(tmp_path / "s.h5", run_id=run.run_id) as w:
        w.add_files(
            "audio",
            [
                recording("songs/p2/take.wav", np.concatenate([rng.standard_normal((4, dim)), middle])),
                *(recording(f"songs/p{k}/take.wav", rng.standard_normal((12, dim))) for k in (0, 1, 3)),
            ],
        )
        w.add_files("sheet", [FileRows("sheet/p0/0.png", 1, 0.0, ["sheet/p0/0.png"], page_vectors[:1])])
    r = cli("identify", page, "--index", tmp_path / "s.h5", "--run", run_dir, "--json", "-k", "3")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["aggregate"] == "sequence" and out["pieces"][0]["piece"] == "p2"
    assert out["hubness"] is False  # no page windows stored: a page's hits are not corrected


def test_identify_says_what_is_wrong(run, run_dir, cli, tmp_path):
    wav = write_wav(tmp_path / "x.wav", 3.0)
    v = embed_queries(run, gather_queries(run, [wav])[0])[0].vector[None]
    store = _store(tmp_path / "s.h5", run.run_id, {"sheet": {"sheet/a/0.png": v}, "audio": {"audio/a/0.wav": v}})
    blank = tmp_path / "blank.png"
    Image.new("L", (300, 200), 255).save(blank)
    r = cli("identify", blank, "--index", store, "--run", run_dir)
    assert r.exit_code != 0 and "blank.png: no staff found on the page" in " ".join(r.output.split())
    r = cli("identify", blank, wav, "--index", store, "--run", run_dir, "--json")
    assert r.exit_code == 1  # the page is skipped and said so; the recording is identified
    assert json.loads(r.stdout.splitlines()[0])["pieces"][0]["piece"] == "a"
    assert "skipped" in r.stderr and "no staff found" in r.stderr
    r = cli("identify", wav, "--index", store, "--run", run_dir, "--target", "audio")
    assert r.exit_code != 0 and "identify matches across modalities" in r.output
    r = cli("identify", wav, "--index", store, "--run", run_dir, "--target", "lyrics")
    assert r.exit_code != 0 and "no such embeddings" in r.output
    r = cli("identify", wav, "--index", store, "--run", run_dir, "--aggregate", "mean")
    assert r.exit_code != 0 and "--aggregate mean" in r.output
    r = cli("identify", wav, "--index", store, "--run", run_dir, "--aggregate", "sequence")
    assert r.exit_code != 0 and "--aggregate sequence needs --data" in " ".join(r.output.split())
    r = cli("identify", wav, "--index", store, "--run", run_dir, "--json")  # auto without --data: votes
    assert r.exit_code == 0 and json.loads(r.stdout)["aggregate"] == "votes"
    r = cli("identify", "--index", store, "--run", run_dir)
    assert r.exit_code != 0 and "give a query" in r.output
