"""`ugaar-kit embed` on a folder: routing, skipped files, windows, lines, resume, refresh, shards."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile

from ugaar_kit.errors import InputError
from ugaar_kit.inference.embedding import EmbedSettings, embed_paths, embed_query
from ugaar_kit.store.reader import Store
from ugaar_kit.testing.data import BAD_FILES, GOOD_FILES, write_wav


def _by_id(store: Store, modality: str) -> dict[str, np.ndarray]:
    return dict(zip(store.ids(modality).tolist(), store.embeddings(modality)[:]))


def test_folder_with_bad_files_embeds_every_good_one_and_names_each_bad_one(cli, run, run_dir, folder, tmp_path):
    out = tmp_path / "emb.h5"
    result = cli("embed", folder, "--run", run_dir, "--out", out, "--workers", 0, "--batch-size", 3)
    assert result.exit_code == 1, result.output  # 1: some files were skipped
    for name in BAD_FILES:
        assert name in result.output, f"summary does not name {name}"
    with Store(out) as store:
        assert store.run_id == "fake-0"
        assert set(store.modalities) == {"audio", "sheet", "lyrics"}
        for modality, files in GOOD_FILES.items():
            assert set(store.sources(modality).tolist()) == set(files)
        every = [s for m in store.modalities for s in store.sources(m).tolist()]
        assert not any("secret" in s or "more.wav" in s or s.startswith(("escape", "inside-link", ".")) for s in every)
        errors = dict(store.errors)
        assert set(errors) == set(BAD_FILES)
        for name, word in BAD_FILES.items():
            assert word in errors[name], (name, errors[name])
        # nothing from outside: no stored audio row is the embedding of the outside file
        stored = np.stack(list(_by_id(store, "audio").values()))
    _, secret = embed_query(run, tmp_path / "elsewhere/secret.wav")
    assert np.abs(stored - secret).max(axis=1).min() > 1e-3


def test_rows_are_one_per_item_with_ids_times_and_lines(run, folder, tmp_path):
    out = tmp_path / "emb.h5"
    summary = embed_paths(run, [folder], out, EmbedSettings(batch_size=5))
    assert summary.files == sum(len(v) for v in GOOD_FILES.values())
    with Store(out) as store:
        audio = store.metadata("audio")
        ids = audio["ids"].tolist()
        assert len(ids) == len(set(ids))
        # d.wav lasts 12 s: windows of 5 s every 2.5 s, the last ending at the end
        d = [i for i in ids if i.startswith("long/d.wav")]
        assert d == ["long/d.wav#t=0-5", "long/d.wav#t=2.5-7.5", "long/d.wav#t=5-10", "long/d.wav#t=7.5-12"]
        assert "songs/a.wav" in ids  # 2 s: one row, no fragment
        row = ids.index("songs/a.wav")
        assert (audio["start"][row], audio["end"][row]) == (0.0, 2.0)
        lyrics = store.metadata("lyrics")
        assert lyrics["ids"].tolist() == ["words/a.txt#L1", "words/a.txt#L2", "words/b.txt"]
        assert lyrics["line"].tolist() == [1, 2, 1]
        assert np.isnan(lyrics["start"]).all()
        # a lyrics row is its normalized line, embedded as a query of that text would be
        _, q = embed_query(run, text="How I wonder what you are!")
        np.testing.assert_allclose(store.embeddings("lyrics")[1], q, atol=1e-6)
        assert store.config["objective"] == {"name": "proj"}


def test_three_minute_recording_is_embedded_as_windows_with_correct_times(run, tmp_path):
    rec = write_wav(tmp_path / "in/concert.wav", 180.0, 300, seed=5)
    out = tmp_path / "emb.h5"
    embed_paths(run, [tmp_path / "in"], out, EmbedSettings(batch_size=16))
    with Store(out) as store:
        meta = store.metadata("audio")
        emb = store.embeddings("audio")[:]
    starts = np.arange(71) * 2.5
    np.testing.assert_array_equal(meta["start"], starts)
    np.testing.assert_array_equal(meta["end"], np.minimum(starts + 5.0, 180.0))
    assert meta["ids"][0] == "concert.wav#t=0-5" and meta["ids"][-1] == "concert.wav#t=175-180"
    assert meta["ids"][31] == "concert.wav#t=77.5-82.5"
    # the row of window k is the embedding of exactly those samples
    wave, rate = soundfile.read(rec, dtype="int16")
    for k in (0, 31, 70):
        a, b = int(meta["start"][k] * rate), int(meta["end"][k] * rate)
        piece = tmp_path / f"piece{k}.wav"
        soundfile.write(piece, wave[a:b], rate, subtype="PCM_16")
        _, z = embed_query(run, piece)
        np.testing.assert_allclose(emb[k], z, atol=1e-5)
    assert not np.allclose(emb[0], emb[31], atol=1e-3)


def test_rerun_resumes_and_refresh_reembeds_changed_files(run, folder, tmp_path):
    out = tmp_path / "emb.h5"
    first = embed_paths(run, [folder], out, EmbedSettings(batch_size=4))
    with Store(out) as store:
        before = _by_id(store, "audio")
        revision = store.revision
    again = embed_paths(run, [folder], out, EmbedSettings(batch_size=4))
    assert (again.files, again.already) == (0, first.files)
    with Store(out) as store:
        assert store.revision == revision  # nothing new: the store was not rewritten

    changed = write_wav(folder / "songs/b.wav", 4.0, 1200, seed=7)
    os.utime(changed, (1_700_000_000, 1_700_000_000))
    kept = embed_paths(run, [folder], out, EmbedSettings(batch_size=4))
    assert kept.changed == ["songs/b.wav"] and kept.files == 0
    with Store(out) as store:
        np.testing.assert_array_equal(_by_id(store, "audio")["songs/b.wav"], before["songs/b.wav"])

    fresh = embed_paths(run, [folder], out, EmbedSettings(batch_size=4, refresh=True))
    assert (fresh.files, fresh.refreshed) == (1, 1)
    with Store(out) as store:
        after = _by_id(store, "audio")
        ids = store.ids("audio").tolist()
        assert len(ids) == len(set(ids)) == len(before)
        assert not np.allclose(after["songs/b.wav"], before["songs/b.wav"], atol=1e-4)
        np.testing.assert_array_equal(after["songs/a.wav"], before["songs/a.wav"])
        meta = store.metadata("audio")
        row = ids.index("songs/b.wav")
        assert meta["mtime"][row] == 1_700_000_000


def test_a_store_of_another_run_is_refused(cli, run, other_run_dir, folder, tmp_path):
    out = tmp_path / "emb.h5"
    embed_paths(run, [folder / "words"], out)
    result = cli("embed", folder / "words", "--run", other_run_dir, "--out", out, "--workers", 0)
    assert result.exit_code == 2
    assert "made by run fake-0, not by this run (fake-1)" in result.output
    assert not (tmp_path / "emb.h5.journal").exists()


def test_other_window_settings_are_refused(run, folder, tmp_path):
    out = tmp_path / "emb.h5"
    embed_paths(run, [folder / "songs"], out)
    with pytest.raises(InputError, match="embedded with hop 2.5, window 5.0"):
        embed_paths(run, [folder / "songs"], out, EmbedSettings(window=3.0))


def test_strict_stops_at_the_first_bad_file(cli, run_dir, folder, tmp_path):
    out = tmp_path / "emb.h5"
    result = cli("embed", folder / "scores", "--run", run_dir, "--out", out, "--strict", "--workers", 0)
    assert result.exit_code == 2
    assert "notanimage.png" in result.output and "cannot read image" in result.output
    with Store(out) as store:  # what came before the bad file is kept
        assert store.sources("sheet").tolist() == ["a.png", "b.png"]


def test_shards_partition_the_files_and_merge_into_the_whole(cli, run, run_dir, folder, tmp_path):
    full = tmp_path / "full.h5"
    embed_paths(run, [folder], full)
    parts = []
    for k in (1, 2, 3):
        part = tmp_path / f"part{k}.h5"
        result = cli("embed", folder, "--run", run_dir, "--out", part, "--shard", f"{k}/3", "--workers", 0)
        assert result.exit_code == 1  # the bad files fall in shards too, or are links
        parts.append(part)
    sources = []
    for part in parts:
        with Store(part) as store:
            sources += [(m, s) for m in store.modalities for s in set(store.sources(m).tolist())]
    assert len(sources) == len(set(sources)) == sum(len(v) for v in GOOD_FILES.values())
    merged = tmp_path / "merged.h5"
    result = cli("store", "merge", *parts, "--out", merged)
    assert result.exit_code == 0, result.output
    with Store(full) as a, Store(merged) as b:
        assert a.modalities == b.modalities
        for m in a.modalities:
            ea, eb = _by_id(a, m), _by_id(b, m)
            assert sorted(ea) == sorted(eb)
            for key in ea:
                np.testing.assert_allclose(ea[key], eb[key], atol=1e-6)
        assert sorted(a.errors) == sorted(b.errors)


def test_two_roots_prefix_ids_with_the_root_names(run, folder, tmp_path):
    out = tmp_path / "emb.h5"
    embed_paths(run, [folder / "songs", folder / "words"], out)
    with Store(out) as store:
        assert set(store.sources("lyrics").tolist()) == {"words/a.txt", "words/b.txt"}
        assert "songs/deep/c.wav" in store.sources("audio").tolist()


def test_forced_modality_embeds_any_extension_but_not_the_store_itself(run, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in/verse.lyr").write_text("row row row your boat\n", encoding="utf-8")
    inside = tmp_path / "in/emb.h5"  # the output inside the input, re-run: never read back
    for _ in range(2):
        summary = embed_paths(run, [tmp_path / "in"], inside, EmbedSettings(modality="lyrics", fold_rows=1))
    assert (summary.files, summary.already, summary.skipped) == (0, 1, [])
    by_extension = embed_paths(run, [tmp_path / "in"], tmp_path / "emb2.h5")
    assert (by_extension.files, by_extension.ignored) == (0, 2)  # verse.lyr and the first store


def test_worker_processes_give_the_same_store(run, folder, tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    embed_paths(run, [folder], a, EmbedSettings(batch_size=3, workers=0))
    embed_paths(run, [folder], b, EmbedSettings(batch_size=7, workers=2))
    with Store(a) as sa, Store(b) as sb:
        for m in sa.modalities:
            assert sa.ids(m).tolist() == sb.ids(m).tolist()
            np.testing.assert_allclose(sa.embeddings(m)[:], sb.embeddings(m)[:], atol=1e-5)


def test_missing_input_is_one_line_error(cli, run_dir, tmp_path):
    result = cli("embed", tmp_path / "nope", "--run", run_dir, "--out", tmp_path / "emb.h5")
    assert result.exit_code == 2
    assert f"{tmp_path / 'nope'}: no such file or folder" in result.output
    assert not (tmp_path / "emb.h5").exists()


def test_write_wav_helper_is_deterministic(tmp_path: Path):
    a = write_wav(tmp_path / "x.wav", 1.0, seed=3)
    b = write_wav(tmp_path / "y.wav", 1.0, seed=3)
    assert a.read_bytes() == b.read_bytes()
