"""Exact blocked search against brute force, and `ugaar-kit search` / `store index`."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from ugaar_kit.inference.embedding import EmbedSettings, embed_paths
from ugaar_kit.retrieval.search import top_k


@pytest.mark.parametrize("block", [1, 7, 100, 4096])
@pytest.mark.parametrize("k", [1, 10, 500])
def test_exact_top_k_equals_brute_force(block, k):
    rng = np.random.default_rng(block + k)
    rows = rng.standard_normal((300, 12)).astype(np.float32) * rng.uniform(0.1, 5, (300, 1)).astype(np.float32)
    queries = rng.standard_normal((5, 12))
    scores, indices = top_k(queries, rows, k, block_rows=block)
    cos = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ (
        rows / np.linalg.norm(rows, axis=1, keepdims=True)
    ).T
    expect = np.argsort(-cos, axis=1, kind="stable")[:, : min(k, 300)]
    np.testing.assert_array_equal(indices, expect)
    np.testing.assert_allclose(scores, np.take_along_axis(cos, expect, axis=1), atol=1e-5)


def test_top_k_over_an_h5_dataset_and_ties(tmp_path):
    import h5py

    rows = np.repeat(np.eye(4, dtype=np.float32), 3, axis=0)  # every row three times
    with h5py.File(tmp_path / "x.h5", "w") as f:
        ds = f.create_dataset("e", data=rows, chunks=(2, 4))
        scores, indices = top_k(np.array([[0, 1, 0, 0]]), ds, 4, block_rows=5)
    assert indices.tolist() == [[3, 4, 5, 0]]  # the three ties by index, then the best of the rest
    np.testing.assert_allclose(scores[0, :3], 1.0)


@pytest.fixture
def store_path(run, folder, tmp_path):
    out = tmp_path / "emb.h5"
    embed_paths(run, [folder], out, EmbedSettings(batch_size=4))
    return out


def search(cli, query, store_path, run_dir, *more):
    """`ugaar-kit search QUERY --index STORE --run RUN ...more`."""
    return cli("search", query, "--index", store_path, "--run", run_dir, *more)


def test_search_finds_the_query_itself_first(cli, run_dir, folder, store_path):
    result = search(
        cli,
        folder / "songs/b.wav",
        store_path,
        run_dir,
        "--target",
        "audio",
        "--json",
        "--top",
        3,
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["query_modality"] == "audio"
    hits = out["results"]["audio"]
    assert hits[0]["id"] == "songs/b.wav" and hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert hits[0]["start"] == 0.0 and hits[0]["end"] == 4.0
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]


def test_search_by_text_and_default_targets(cli, run_dir, store_path):
    result = cli(
        "search", "--text", "How I wonder what you are", "--index", store_path, "--run", run_dir, "--json", "--top", 2
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["query_modality"] == "lyrics"
    assert set(out["results"]) == {"audio", "sheet"}  # every other modality in the store
    windows = [h for h in out["results"]["audio"]]
    assert all(h["start"] is not None for h in windows)
    same = cli(
        "search",
        "--text",
        "How I wonder what you are!",
        "--index",
        store_path,
        "--run",
        run_dir,
        "--json",
        "--target",
        "lyrics",
    )
    hits = json.loads(same.output)["results"]["lyrics"]
    assert (
        hits[0]["id"] == "words/a.txt#L2" and hits[0]["line"] == 2 and hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
    )


def test_search_prints_a_table(cli, run_dir, folder, store_path):
    result = search(
        cli,
        folder / "scores/a.png",
        store_path,
        run_dir,
        "--target",
        "audio",
        "--target",
        "sheet",
    )
    assert result.exit_code == 0, result.output
    assert "sheet -> sheet" in result.output and "scores/a.png" in result.output and "1.000" in result.output
    assert "sheet -> audio" in result.output and " s" in result.output


def test_search_refuses_a_store_of_another_run(cli, other_run_dir, folder, store_path):
    result = cli("search", folder / "songs/a.wav", "--index", store_path, "--run", other_run_dir)
    assert result.exit_code == 2
    assert "made by run fake-0" in result.output


def test_search_with_an_unknown_extension_says_so(cli, run_dir, folder, store_path):
    result = cli("search", folder / "README.md", "--index", store_path, "--run", run_dir)
    assert result.exit_code == 2
    assert "cannot tell the modality of '.md' files" in result.output


def test_a_stale_index_is_not_used(cli, run_dir, folder, store_path):
    index = store_path.with_name(store_path.name + ".audio.faiss")
    index.write_bytes(b"not used")
    index.with_name(index.name + ".json").write_text(json.dumps({"store_id": "other", "revision": 0, "rows": 1}))
    result = cli(
        "search", folder / "songs/a.wav", "--index", store_path, "--run", run_dir, "--target", "audio", "--json"
    )
    assert result.exit_code == 0
    assert "is stale" in result.stderr
    assert json.loads(result.stdout)["results"]["audio"][0]["id"] == "songs/a.wav"


def test_index_without_faiss_says_how_to_install_it(cli, store_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # `import faiss` raises ImportError, installed or not
    result = cli("store", "index", store_path)
    assert result.exit_code == 2
    assert "faiss is not installed: pip install 'ugaar-kit[faiss]'" in result.output
