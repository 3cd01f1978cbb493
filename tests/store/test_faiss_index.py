"""`ugaar-kit store index` with the real faiss (the optional `faiss` extra): the index is built,
its reported recall@10 is right, and search uses it while the store is unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ugaar_kit.inference.embedding import EmbedSettings, embed_paths
from ugaar_kit.retrieval.search import search_store, top_k
from ugaar_kit.store.index import IVF_MIN_ROWS, build_index, index_path, load_index, meta_path, search_index
from ugaar_kit.store.reader import Store
from ugaar_kit.store.tables import FileRows
from ugaar_kit.store.writer import StoreWriter

faiss = pytest.importorskip("faiss")

ROWS, DIM, CLUSTERS, SPREAD = 24_000, 16, 300, 0.8
"""Enough rows for an IVF index (`IVF_MIN_ROWS`), 16 wide like the benchmark runs' encoders; clusters
spread wide enough that the index misses some neighbours (held-out recall@10 0.946 here)."""


def clustered(n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` rows around fixed random centres: embeddings of similar items, as a trained run gives."""
    centres = np.random.default_rng(7).standard_normal((CLUSTERS, DIM), dtype=np.float32)
    return centres[rng.integers(0, CLUSTERS, n)] + np.float32(SPREAD) * rng.standard_normal((n, DIM), dtype=np.float32)


def write_rows(path: Path, rows: np.ndarray, first: int = 0) -> None:
    """`rows` appended to the store as audio files of 4 windows each."""
    with StoreWriter(path, run_id="r", settings={"window": 5.0, "hop": 2.5}) as w:
        files = [
            FileRows(
                f"f{first + i:06d}.wav",
                100,
                1.0,
                [f"f{first + i:06d}.wav#t={k}" for k in range(len(rows[i : i + 4]))],
                rows[i : i + 4],
                [2.5 * k for k in range(len(rows[i : i + 4]))],
                [2.5 * k + 5 for k in range(len(rows[i : i + 4]))],
            )
            for i in range(0, len(rows), 4)
        ]
        for a in range(0, len(files), 1000):
            w.add_files("audio", files[a : a + 1000])


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of `ROWS` clustered rows with its faiss index built."""
    path = tmp_path_factory.mktemp("faiss") / "emb.h5"
    write_rows(path, clustered(ROWS, np.random.default_rng(0)))
    build_index(path)
    return path


def recall(exact: np.ndarray, approx: np.ndarray) -> float:
    return float(np.mean([len(set(e) & set(a)) / len(e) for e, a in zip(exact.tolist(), approx.tolist())]))


def test_store_index_builds_an_ivf_index_whose_reported_recall_holds(cli, big_store):
    assert ROWS >= IVF_MIN_ROWS
    result = cli("store", "index", big_store)  # built again, as a user would
    assert result.exit_code == 0, result.output
    assert "ivf-flat nlist=615 nprobe=16" in result.output  # min(4 sqrt(24,000), 24,000 // 39) lists
    meta = json.loads(meta_path(big_store, "audio").read_text())
    assert meta["rows"] == ROWS and meta["recall_queries"] == 1000
    assert f"{meta['recall_at_10']:.3f}" in result.output
    assert (
        f"wrote {index_path(big_store, 'audio')}; recall@10 against exact search over 1,000 stored rows"
        in result.output
    )
    assert meta["recall_at_10"] >= 0.9

    # New queries (not stored rows, which always find themselves) from the same distribution.
    queries = clustered(300, np.random.default_rng(1))
    with Store(big_store) as store:
        index = load_index(store, "audio")
        assert isinstance(index, faiss.IndexIVFFlat) and index.nprobe == 16 and index.ntotal == ROWS
        _, exact = top_k(queries, store.embeddings("audio"), 10)
        scores, approx = search_index(index, queries, 10)
    held_out = recall(exact, approx)
    assert held_out >= 0.9
    assert abs(held_out - meta["recall_at_10"]) <= 0.05  # the reported figure is what search gets
    assert np.mean(exact[:, 0] == approx[:, 0]) >= 0.93  # the best hit is found for nearly every query
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first


def test_search_uses_the_index_and_mostly_agrees_with_exact(big_store):
    queries = clustered(50, np.random.default_rng(2))
    same_top, overlap = 0, []
    with Store(big_store) as store:
        index = load_index(store, "audio")
        for q in queries:
            notes: list[str] = []
            hits = search_store(store, q, ["audio"], 10, notes=notes)["audio"]
            exact = search_store(store, q, ["audio"], 10, exact=True)["audio"]
            assert notes == []
            _, via_index = search_index(index, q, 10)
            assert [h.id for h in hits] == [str(x) for x in store.ids("audio")[via_index[0]]]  # the index's answer
            assert [h.rank for h in hits] == list(range(1, 11))
            assert hits[0].start is not None and hits[0].end == hits[0].start + 5
            same_top += hits[0].id == exact[0].id
            overlap.append(len({h.id for h in hits} & {h.id for h in exact}) / 10)
    assert same_top >= 0.9 * len(queries)
    assert np.mean(overlap) >= 0.9


def test_an_index_goes_stale_when_rows_are_added(big_store, tmp_path):
    store_path = tmp_path / "emb.h5"
    store_path.write_bytes(big_store.read_bytes())
    for made in (index_path(big_store, "audio"), meta_path(big_store, "audio")):
        (tmp_path / made.name).write_bytes(made.read_bytes())
    extra = clustered(4, np.random.default_rng(3))
    write_rows(store_path, extra, first=ROWS)
    with Store(store_path) as store:
        notes: list[str] = []
        hits = search_store(store, extra[0], ["audio"], 10, notes=notes)["audio"]
    assert len(notes) == 1 and "is stale" in notes[0]
    assert hits[0].id == f"f{ROWS:06d}.wav#t=0"  # exact search sees the new row the index lacks


def test_a_small_store_gets_a_flat_index_that_search_uses_through_the_cli(cli, run, run_dir, folder, tmp_path):
    store = tmp_path / "emb.h5"
    embed_paths(run, [folder], store, EmbedSettings(batch_size=4))
    result = cli("store", "index", store)
    assert result.exit_code == 0, result.output
    assert "flat" in result.output and "1.000" in result.output  # a flat index is exact
    args = ("search", folder / "songs/b.wav", "--index", store, "--run", run_dir, "--json", "--target", "audio")
    indexed = cli(*args)
    exact = cli(*args, "--exact")
    assert indexed.exit_code == exact.exit_code == 0, indexed.output
    assert "stale" not in indexed.stderr
    a, b = json.loads(indexed.stdout)["results"]["audio"], json.loads(exact.stdout)["results"]["audio"]
    assert [h["id"] for h in a] == [h["id"] for h in b] and a[0]["id"] == "songs/b.wav"
    np.testing.assert_allclose([h["score"] for h in a], [h["score"] for h in b], atol=1e-5)
