"""The store file: the reader API, refusing unknown formats and newer versions, merging."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

import ugaar_kit
from ugaar_kit.errors import InputError
from ugaar_kit.inference.embedding import EmbedSettings, embed_paths
from ugaar_kit.store.format import FORMAT_VERSION
from ugaar_kit.store.merge import merge_stores
from ugaar_kit.store.reader import Store
from ugaar_kit.testing.data import GOOD_FILES


@pytest.fixture
def store_path(run, folder, tmp_path):
    out = tmp_path / "emb.h5"
    embed_paths(run, [folder], out, EmbedSettings(batch_size=4))
    return out


def test_reader_api(store_path):
    with ugaar_kit.Store(store_path) as store:
        assert store.modalities == ("audio", "lyrics", "sheet")
        assert store.format_version == FORMAT_VERSION and store.tool_version == ugaar_kit.__version__
        assert store.settings == {"window": 5.0, "hop": 2.5}
        assert store.run_id == "fake-0" and store.config["seed"] == 0
        emb = store.embeddings("audio")
        assert isinstance(emb, h5py.Dataset) and emb.dtype == np.float32 and emb.maxshape == (None, 8)
        assert emb.chunks is not None
        n = store.rows("audio")
        assert len(store) == n + store.rows("sheet") + store.rows("lyrics")
        ids = store.ids("audio")
        rows = store.rows_at("audio", [n - 1, 0, n - 1])
        assert [r["ids"] for r in rows] == [ids[n - 1], ids[0], ids[n - 1]]
        meta = store.metadata("sheet")
        assert set(meta) == {"ids", "source", "size", "mtime", "start", "end", "line"}
        assert meta["source"].tolist() == GOOD_FILES["sheet"]
        assert (meta["size"] > 0).all() and (meta["line"] == 0).all()
        assert len(store.errors) == 5
        assert "audio=" in repr(store)
        with pytest.raises(InputError, match="has no video embeddings"):
            store.embeddings("video")


def _with_attr(src, dst, name, value):
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        f.attrs[name] = value
    return dst


def test_reader_refuses_a_newer_format_version(store_path, tmp_path, cli):
    newer = _with_attr(store_path, tmp_path / "newer.h5", "format_version", FORMAT_VERSION + 1)
    with pytest.raises(InputError, match=f"format version {FORMAT_VERSION + 1} is newer than this ugaar-kit reads"):
        Store(newer)
    result = cli("store", "info", newer)
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "upgrade ugaar-kit" in result.output


def test_reader_refuses_other_files(store_path, tmp_path):
    other = _with_attr(store_path, tmp_path / "other.h5", "format", "anndata")
    with pytest.raises(InputError, match="not a ugaar-kit embedding store \\(format 'anndata'"):
        Store(other)
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    with pytest.raises(InputError, match="not a readable HDF5 file"):
        Store(text)
    with pytest.raises(InputError, match="no such embedding store"):
        Store(tmp_path / "missing.h5")


def test_writer_refuses_a_newer_store(run, folder, store_path, tmp_path):
    newer = _with_attr(store_path, tmp_path / "newer.h5", "format_version", FORMAT_VERSION + 1)
    with pytest.raises(InputError, match="newer than this ugaar-kit reads"):
        embed_paths(run, [folder / "words"], newer)


def test_merge_refuses_stores_of_different_runs(cli, run, other_run_dir, registry, folder, tmp_path):
    from ugaar_kit.inference.run import Run

    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    embed_paths(run, [folder / "words"], a)
    embed_paths(Run.load(other_run_dir, registry=registry), [folder / "songs"], b)
    result = cli("store", "merge", a, b, "--out", tmp_path / "all.h5")
    assert result.exit_code == 2
    assert f"{b}: made by run fake-1, but {a} by run fake-0" in result.output
    assert not (tmp_path / "all.h5").exists()


def test_merge_keeps_the_last_input_for_a_file_in_several(run, folder, tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    embed_paths(run, [folder], a)
    embed_paths(run, [folder], b, EmbedSettings(modality="lyrics"))  # every file read as lyrics
    report = merge_stores([a, b], tmp_path / "ab.h5")
    with Store(a) as sa, Store(b) as sb, Store(tmp_path / "ab.h5") as m:
        assert report.rows["audio"] == sa.rows("audio")
        assert report.rows["lyrics"] == sb.rows("lyrics")  # b's lyrics rows replace a's
        assert report.duplicates == sa.rows("lyrics")
        np.testing.assert_array_equal(m.embeddings("lyrics")[:], sb.embeddings("lyrics")[:])
        assert m.store_id not in (sa.store_id, sb.store_id)


def test_store_info_lists_rows_and_errors(cli, store_path):
    result = cli("store", "info", store_path, "--errors")
    assert result.exit_code == 0, result.output
    assert "run fake-0" in result.output
    assert "songs/broken.wav: not a readable audio file" in result.output
    assert "skipped files: 5" in result.output
