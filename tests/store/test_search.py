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


@pytest.mark.parametrize("block", [1, 7, 100, 4096])
@pytest.mark.parametrize("k", [1, 3, 10, 50])
def test_ties_go_to_the_lower_index_across_blocks(block, k):
    """Unit rows drawn from six basis vectors (many exact ties) and integer queries: every score
    is exact, so the answer is the brute-force order by score, then index."""
    rng = np.random.default_rng(block * 100 + k)
    rows = np.eye(8, dtype=np.float32)[rng.integers(0, 6, 240)]
    queries = rng.integers(-3, 4, (9, 8)).astype(np.float32)
    queries[0] = 0
    queries[0, 2] = 1  # one query with a single best direction tied 40-odd times
    scores, indices = top_k(queries, rows, k, block_rows=block, unit=True)
    cos = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32) @ rows.T
    for q in range(len(queries)):
        expect = np.lexsort((np.arange(len(rows)), -cos[q]))[:k]
        assert indices[q].tolist() == expect.tolist()
        np.testing.assert_array_equal(scores[q], cos[q][expect])


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
    result = search(cli, folder / "songs/b.wav", store_path, run_dir, *"--target audio --json --top 3".split())
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
    result = search(cli, folder / "scores/a.png", store_path, run_dir, *"--target audio --target sheet".split())
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


# -- unit-length rows and batched queries (issue 20) --------------------------------------------
def unit_of(path, modality):
    from ugaar_kit.store.reader import Store

    with Store(path) as store:
        unit = store.unit(modality)
        return None if unit is None else np.array(unit), store.embeddings(modality)[:]


def assert_unit_rows_match(path):
    from ugaar_kit.store.exact import normalize_rows
    from ugaar_kit.store.reader import Store

    with Store(path) as store:
        modalities = store.modalities
    for m in modalities:
        unit, raw = unit_of(path, m)
        assert unit is not None, m
        np.testing.assert_allclose(unit, normalize_rows(raw), atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-5)


def test_a_store_keeps_its_rows_at_unit_length_memory_mapped(store_path):
    from ugaar_kit.store.reader import Store

    assert_unit_rows_match(store_path)
    with Store(store_path) as store:
        assert isinstance(store.unit("audio"), np.memmap)


def test_unit_rows_follow_a_refresh_and_a_merge(run, folder, store_path, tmp_path):
    from ugaar_kit.testing.data import write_wav

    before, _ = unit_of(store_path, "audio")
    write_wav(folder / "songs/a.wav", 2.0, 700, seed=5)  # a different recording, same name
    embed_paths(run, [folder], store_path, EmbedSettings(batch_size=4, refresh=True))
    assert_unit_rows_match(store_path)
    after, _ = unit_of(store_path, "audio")
    assert before.shape == after.shape and not np.allclose(before, after)

    other = tmp_path / "other"
    write_wav(other / "e.wav", 3.0, 260, seed=6)
    part = tmp_path / "part.h5"
    embed_paths(run, [other], part, EmbedSettings(batch_size=4))
    from ugaar_kit.store.merge import merge_stores

    merged = tmp_path / "merged.h5"
    merge_stores([store_path, part], merged)
    assert_unit_rows_match(merged)
    assert unit_of(merged, "audio")[0].shape[0] == after.shape[0] + unit_of(part, "audio")[0].shape[0]


def test_a_store_without_unit_rows_is_searched_the_same(cli, run_dir, folder, store_path, tmp_path):
    """A store of 0.1.0 has no `unit` rows; one whose `unit` is of another revision (written by
    an older writer) must not be trusted: search normalises the raw rows instead, with a note."""
    import shutil

    import h5py

    query = ("search", folder / "songs/b.wav", "--target", "audio", "--target", "sheet", "--index")
    want = json.loads(cli(*query, store_path, "--run", run_dir, "--json").stdout)
    old = tmp_path / "old.h5"
    shutil.copyfile(store_path, old)
    with h5py.File(old, "r+") as f:
        del f["audio/unit"]
        f["sheet/unit"].attrs["revision"] = 0
    got = cli(*query, old, "--run", run_dir, "--json")
    assert got.exit_code == 0
    assert "no unit-length audio rows" in got.stderr and "no unit-length sheet rows" in got.stderr
    hits = json.loads(got.stdout)["results"]
    for m, expected in want["results"].items():
        assert [h["id"] for h in hits[m]] == [h["id"] for h in expected]
        np.testing.assert_allclose([h["score"] for h in hits[m]], [h["score"] for h in expected], atol=1e-6)


def test_batched_queries_equal_single_ones(cli, run_dir, folder, store_path, tmp_path):
    files = [folder / "songs/a.wav", folder / "songs/b.wav", folder / "scores/a.png", folder / "words/b.txt"]
    texts = ["How I wonder what you are", "amazing grace"]
    single = [json.loads(cli("search", f, "--index", store_path, "--run", run_dir, "--json").stdout) for f in files]
    single += [
        json.loads(cli("search", "--text", t, "--index", store_path, "--run", run_dir, "--json").stdout) for t in texts
    ]
    lines = tmp_path / "lines.txt"
    lines.write_text("How I wonder what you are\n\namazing grace\n", encoding="utf-8")
    many = cli("search", *files, "--lines", lines, "--index", store_path, "--run", run_dir, "--json")
    assert many.exit_code == 0, many.output
    batched = [json.loads(line) for line in many.stdout.splitlines()]
    assert len(batched) == len(single)
    for one, got in zip(single, batched):
        assert got["query_modality"] == one["query_modality"]
        assert got["results"].keys() == one["results"].keys()
        for m in one["results"]:
            assert [h["id"] for h in got["results"][m]] == [h["id"] for h in one["results"][m]]
            np.testing.assert_allclose(
                [h["score"] for h in got["results"][m]], [h["score"] for h in one["results"][m]], atol=1e-5
            )


def test_a_folder_of_queries_skips_and_reports_what_it_cannot_read(cli, run_dir, folder, store_path):
    result = cli("search", folder / "songs", "--index", store_path, "--run", run_dir, "--json", "--top", 1)
    assert result.exit_code == 1  # songs/broken.wav could not be embedded
    got = {json.loads(line)["query"] for line in result.stdout.splitlines()}
    assert {str(folder / p) for p in ("songs/a.wav", "songs/b.wav", "songs/deep/c.wav")} <= got
    assert "skipped" in result.stderr and "broken.wav" in result.stderr
    assert not any("outside" in q or ".y.wav" in q for q in got)  # embed's walk: no escapes, no hidden files


def test_search_needs_a_query(cli, run_dir, store_path):
    result = cli("search", "--index", store_path, "--run", run_dir)
    assert result.exit_code == 2 and "give a query" in result.output
