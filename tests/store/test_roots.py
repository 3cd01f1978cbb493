"""A store records the folders and files `embed` was given (`roots`), so its sources can be found
again; `store merge` joins its inputs' roots."""

from __future__ import annotations

from ugaar_kit.inference.embedding import EmbedSettings, embed_paths
from ugaar_kit.store.merge import merge_stores
from ugaar_kit.store.reader import Store
from ugaar_kit.testing.data import write_wav


def test_embed_records_its_roots_and_a_later_embed_adds_its_own(run, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_wav(a / "x.wav", 1.0, 330, seed=1)
    write_wav(b / "y.wav", 1.0, 440, seed=2)
    write_wav(tmp_path / "one.wav", 1.0, 550, seed=3)
    out = tmp_path / "emb.h5"
    embed_paths(run, [a], out, EmbedSettings())
    with Store(out) as store:
        assert store.roots == [{"label": "", "path": str(a.resolve())}]
    embed_paths(run, [b, tmp_path / "one.wav"], out, EmbedSettings())  # two roots: labelled
    with Store(out) as store:
        assert store.roots == [
            {"label": "b", "path": str(b.resolve())},
            {"label": "", "path": str((tmp_path / "one.wav").resolve())},
            {"label": "", "path": str(a.resolve())},
        ]
        assert sorted(store.sources("audio").tolist()) == ["b/y.wav", "one.wav", "x.wav"]


def test_merge_joins_the_roots_of_its_inputs(run, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_wav(a / "x.wav", 1.0, 330, seed=1)
    write_wav(b / "y.wav", 1.0, 440, seed=2)
    embed_paths(run, [a], tmp_path / "a.h5", EmbedSettings())
    embed_paths(run, [b], tmp_path / "b.h5", EmbedSettings())
    merge_stores([tmp_path / "a.h5", tmp_path / "b.h5"], tmp_path / "ab.h5")
    with Store(tmp_path / "ab.h5") as store:
        assert store.roots == [{"label": "", "path": str(b.resolve())}, {"label": "", "path": str(a.resolve())}]
