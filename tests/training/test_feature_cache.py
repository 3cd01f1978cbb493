"""The HDF5 feature cache: round trip, interrupted builds, damaged files, changed sources, workers."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from ugaar_kit.errors import InputError
from ugaar_kit.features.cache import FeatureCache, cache_path, sources
from ugaar_kit.interfaces.dataset import DatasetFolder
from ugaar_kit.testing.parts import TinyAudio, TinyLyrics, TinySheet


class CountingAudio(TinyAudio):
    """TinyAudio that counts `featurize` calls and can be told to fail after some items."""

    def __init__(self, options=None, fail_after: int | None = None) -> None:
        super().__init__(options)
        self.calls = 0
        self.fail_after = fail_after

    def featurize(self, raw):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-build
        self.calls += 1
        return super().featurize(raw)


def audio_cache(folder: Path, enc) -> FeatureCache:
    key = enc.feature_key()
    return FeatureCache(cache_path(folder, "audio", key), "audio", key, "audio/tiny")


def expected(enc, items) -> dict[str, torch.Tensor]:
    return {it.id: enc.featurize(enc.load_item(it.audio)) for it in items}


def test_round_trip_of_variable_length_features(tiny_data, tmp_path):
    items = DatasetFolder(tiny_data).items
    enc = TinyAudio()
    cache = audio_cache(tmp_path / "c", enc)
    assert cache.ensure(enc, sources(items, "audio")) == 44
    assert audio_cache(tmp_path / "c", enc).ensure(enc, sources(items, "audio")) == 0  # nothing left to do
    cache = audio_cache(tmp_path / "c", enc).open_read()
    ref = expected(enc, items)
    lengths = {t.shape[-1] for t in ref.values()}
    assert len(lengths) > 3  # really variable length
    for it in items:
        got = cache.get(it.id)
        assert got.dtype == ref[it.id].dtype and torch.equal(got, ref[it.id])
        assert cache.length(it.id) == ref[it.id].shape[-1]
    with h5py.File(cache.path, "r") as fh:
        assert fh.attrs["format"] == "ugaar-kit-features" and fh.attrs["committed"] == 44 and fh.attrs["writing"] == 0
        assert fh["shapes"].shape == (44, 2)


def test_fixed_size_and_2d_features(tiny_data, tmp_path):
    items = DatasetFolder(tiny_data).items
    lyr = TinyLyrics()
    lyr.fit([it.lyrics for it in items])
    key = lyr.feature_key()
    cache = FeatureCache(cache_path(tmp_path, "lyrics", key), "lyrics", key)
    cache.ensure(lyr, sources(items, "lyrics"))
    cache.open_read()
    for it in items[:5]:
        assert torch.equal(cache.get(it.id), lyr.featurize(it.lyrics))
    sheet = TinySheet()
    key = sheet.feature_key()
    cache = FeatureCache(cache_path(tmp_path, "sheet", key), "sheet", key)
    cache.ensure(sheet, sources(items, "sheet"))
    cache.open_read()
    assert torch.equal(cache.get(items[3].id), sheet.featurize(sheet.load_item(items[3].sheet)))


def test_interrupted_build_is_completed_without_redoing_committed_rows(tiny_data, tmp_path):
    items = DatasetFolder(tiny_data).items
    broken = CountingAudio(fail_after=10)
    with pytest.raises(KeyboardInterrupt):
        audio_cache(tmp_path, broken).ensure(broken, sources(items, "audio"), commit_rows=4)
    path = audio_cache(tmp_path, broken).path
    with h5py.File(path, "r") as fh:
        assert fh.attrs["committed"] == 8 and fh.attrs["writing"] == 1  # 2 commits of 4; items 9-10 lost
    enc = CountingAudio()
    cache = audio_cache(tmp_path, enc)
    assert cache.ensure(enc, sources(items, "audio"), commit_rows=4) == 36
    assert enc.calls == 36
    cache.open_read()
    ref = expected(TinyAudio(), items)
    assert all(torch.equal(cache.get(i), t) for i, t in ref.items())


def test_uncommitted_and_damaged_rows_are_not_trusted(tiny_data, tmp_path):
    items = DatasetFolder(tiny_data).items
    enc = TinyAudio()
    srcs = sources(items, "audio")
    audio_cache(tmp_path, enc).ensure(enc, srcs[:20], commit_rows=5)
    path = audio_cache(tmp_path, enc).path
    with h5py.File(path, "a") as fh:
        # a crash in the middle of a batch: rows appended, `committed` not raised yet
        n = fh.attrs["committed"]
        for name in ("ids", "fingerprints", "offsets", "checksums"):
            fh[name].resize(n + 3, axis=0)
        fh["shapes"].resize(n + 3, axis=0)
        fh["ids"][n : n + 3] = ["m030", "m031", "m032"]
        fh["data"].resize((fh["data"].shape[0] + 100,))
        # and a row whose bytes were damaged, with the build marked unfinished
        off, size = int(fh["offsets"][12]), int(np.prod(fh["shapes"][12]))
        fh["data"][off : off + size] = 0.0
        fh.attrs["writing"] = 1
    cache = audio_cache(tmp_path, enc)
    built = cache.ensure(enc, srcs)
    assert built == 44 - 12  # rows 0-11 verified; row 12 and everything after recomputed
    assert any("row 12 is damaged" in n for n in cache.notes)
    cache.open_read()
    ref = expected(enc, items)
    assert all(torch.equal(cache.get(i), t) for i, t in ref.items())


def test_unreadable_or_foreign_file_is_rebuilt(tiny_data, tmp_path):
    items = DatasetFolder(tiny_data).items[:6]
    enc = TinyAudio()
    cache = audio_cache(tmp_path, enc)
    cache.path.parent.mkdir(parents=True, exist_ok=True)
    cache.path.write_bytes(b"\x89HDF\r\n\x1a\n" + os.urandom(300))  # a truncated HDF5 header
    assert cache.ensure(enc, sources(items, "audio")) == 6
    assert any("unreadable" in n for n in cache.notes)
    with h5py.File(cache.path, "a") as fh:
        fh.attrs["feature_key"] = "something-else"
    again = audio_cache(tmp_path, enc)
    assert again.ensure(enc, sources(items, "audio")) == 6
    assert any("written for other features" in n for n in again.notes)
    with pytest.raises(InputError, match="written for other features"):
        FeatureCache(again.path, "audio", "another-key").open_read()


def test_changed_source_file_is_recomputed(tiny_data, tmp_path):
    folder = DatasetFolder(tiny_data)
    items = folder.items[:4]
    enc = TinyAudio()
    audio_cache(tmp_path, enc).ensure(enc, sources(items, "audio"))
    # replace item 0's audio with item 1's: same id, new content
    items[0].audio.write_bytes(items[1].audio.read_bytes())
    cache = audio_cache(tmp_path, enc)
    assert cache.ensure(enc, sources(items, "audio")) == 1
    cache.open_read()
    assert torch.equal(cache.get(items[0].id), enc.featurize(enc.load_item(items[1].audio)))


def test_worker_processes_give_the_same_features(tiny_data, tmp_path):
    items = DatasetFolder(tiny_data).items
    enc = TinyAudio()
    cache = audio_cache(tmp_path, enc)
    assert cache.ensure(enc, sources(items, "audio"), workers=2, commit_rows=8, min_parallel=1) == 44
    cache.open_read()
    ref = expected(enc, items)
    assert all(torch.equal(cache.get(i), t) for i, t in ref.items())


def test_bad_input_file_is_reported_by_path(tiny_data, tmp_path):
    items = DatasetFolder(tiny_data).items[:12]
    items[5].audio.write_bytes(b"not a wav")
    enc = TinyAudio()
    for workers in (0, 2):
        with pytest.raises(InputError) as err:
            audio_cache(tmp_path / str(workers), enc).ensure(
                enc, sources(items, "audio"), workers=workers, commit_rows=2, min_parallel=1
            )
        assert err.value.path == str(items[5].audio)
        assert "not a readable audio file" in err.value.problem


def test_cache_file_names_stay_inside_the_cache_folder(tmp_path):
    path = cache_path(tmp_path, "audio", "../../etc/x")
    assert path.parent == tmp_path and path.name == "features-audio-_.._etc_x.h5"


def test_a_cache_another_process_holds_is_waited_for(tiny_data, tmp_path, monkeypatch):
    """Two runs started together on one dataset: the second waits for the first's cache."""
    import subprocess
    import sys

    from ugaar_kit.features import cache as feature_cache

    items = DatasetFolder(tiny_data).items
    enc = TinyAudio()
    cache = audio_cache(tmp_path / "c", enc)
    cache.ensure(enc, sources(items[:5], "audio"))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import h5py, sys, time; f = h5py.File({str(cache.path)!r}, 'a'); print('held', flush=True); "
            "sys.stdin.readline()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(feature_cache, "LOCK_POLL", 0.05)
        monkeypatch.setattr(feature_cache, "LOCK_WAIT", 0.2)
        said: list[str] = []
        second = audio_cache(tmp_path / "c", enc)
        second.on_wait = said.append
        with pytest.raises(InputError, match="still in use by another process"):
            second.ensure(enc, sources(items, "audio"))
        assert len(said) == 1 and "waiting" in said[0]
    finally:
        holder.communicate("\n", timeout=30)  # the holder closes the file and exits
    third = audio_cache(tmp_path / "c", enc)
    assert third.ensure(enc, sources(items, "audio")) == len(items) - 5  # and then it goes on
