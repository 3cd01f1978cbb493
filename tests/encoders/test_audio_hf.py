"""The `hf` audio encoder on a tiny randomly initialised wav2vec 2.0 saved to a local folder,
loaded with the hub offline."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from ugaar_kit_plugins.audio_hf.encoder import HFAudio

from ugaar_kit.errors import InputError, UgaarError
from ugaar_kit.inference.embedding import sample_rate_of
from ugaar_kit.interfaces.state import encoder_state, restore_encoder, save_atomic
from ugaar_kit.testing import check_encoder
from ugaar_kit.testing.tiny_models import tiny_wav2vec2


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_wav2vec2(tmp_path_factory.mktemp("w2v-layer"))


@pytest.fixture(scope="module")
def group_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_wav2vec2(tmp_path_factory.mktemp("w2v-group"), layer_norm=False)


def make(folder: Path, **values: object) -> HFAudio:
    return HFAudio.from_options({"model": str(folder), "hidden": 32, "dim": 16, **values})  # type: ignore[return-value]


def raws(enc: HFAudio, item_files: list[tuple[Path, Path]]) -> list[torch.Tensor]:
    return [enc.load_item(w) for w, _ in item_files[:3]]


def test_conformance_frozen_and_fine_tuned(model_dir: Path, item_files: list[tuple[Path, Path]]):
    enc = make(model_dir)
    assert sample_rate_of(enc) == 16000 and enc.batched
    items = raws(enc, item_files)
    assert len({r.shape[0] for r in items}) == 3
    frozen = check_encoder(lambda: make(model_dir), items)
    assert all(not p.requires_grad for p in frozen.backbone.parameters())
    # frozen: the feature is the model's pooled state (cached by the trainer), equal to what
    # the fine-tunable path computes in forward
    feats = [frozen.featurize(r) for r in items]
    assert all(f.shape == (32,) for f in feats)
    tunable = make(model_dir, freeze="false").eval()
    with torch.no_grad():
        b = tunable.collate([tunable.featurize(r) for r in items])
        states, frames = tunable._frames(b.data, b.mask)
        pooled = (states * frames[..., None]).sum(1) / frames.sum(1, keepdim=True)
    assert torch.allclose(torch.stack(feats), pooled, atol=1e-5)
    tuned = check_encoder(lambda: make(model_dir, freeze="false"), items)
    tuned.train()
    tuned(tuned.collate([tuned.featurize(r) for r in items])).sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in tuned.backbone.parameters())
    check_encoder(lambda: make(model_dir, layer="1"), items)


def test_group_norm_models_run_item_by_item(group_model_dir: Path, item_files: list[tuple[Path, Path]]):
    """Without an attention mask, padding would change a group-norm model's output: the
    encoder runs such models one item at a time, so check_encoder's padding check holds."""
    enc = make(group_model_dir, freeze="false")
    assert not enc.batched
    check_encoder(lambda: make(group_model_dir, freeze="false"), raws(enc, item_files))


def test_checkpoint_keeps_the_folder_hash_not_frozen_weights(model_dir: Path, tmp_path: Path):
    enc = make(model_dir)
    state = encoder_state(enc)
    keys = state["state_dict"].keys()
    assert not any(k.startswith("backbone.") for k in keys)
    assert any(k.startswith("head.") for k in keys)
    extra = state["state_dict"]["_extra_state"]
    assert extra["model_sha256"] == enc.model_sha256 and extra["model_path"] == str(model_dir.resolve())
    assert any(k.startswith("backbone.") for k in encoder_state(make(model_dir, freeze="false"))["state_dict"])

    other = tiny_wav2vec2(tmp_path / "other")
    (other / "config.json").write_text(
        (other / "config.json").read_text().replace('"hidden_act"', '"_x": 1, "hidden_act"')
    )
    state["options"]["model"] = str(other)
    with pytest.raises(InputError, match="model files differ from those the checkpoint was trained with"):
        restore_encoder(state, HFAudio)


def test_feature_key(model_dir: Path, tmp_path: Path):
    base = make(model_dir).feature_key()
    assert make(model_dir, max_seconds="10").feature_key() != base
    assert make(model_dir, dim="8", dropout="0.3").feature_key() == base
    assert make(model_dir, layer="1").feature_key() != base
    assert make(model_dir, freeze="false").feature_key() != base
    assert make(model_dir, freeze="false", layer="1").feature_key() == make(model_dir, freeze="false").feature_key()
    other = tiny_wav2vec2(tmp_path / "other")
    (other / "preprocessor_config.json").write_text(
        (other / "preprocessor_config.json").read_text().replace('"do_normalize": true', '"do_normalize": false')
    )
    assert make(other).feature_key() != base


def test_bad_model_folders(tmp_path: Path, model_dir: Path):
    with pytest.raises(UgaarError, match=r"-o audio.model=PATH"):
        HFAudio.from_options({})
    with pytest.raises(InputError, match="model folder not found"):
        make(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no config.json here"):
        make(tmp_path / "empty")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((model_dir / "config.json").read_text())
    (broken / "preprocessor_config.json").write_text((model_dir / "preprocessor_config.json").read_text())
    (broken / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(InputError, match="cannot load an audio model"):
        make(broken)
    with pytest.raises(UgaarError, match="audio.layer"):
        make(model_dir, layer="7")


def test_fine_tuned_weights_start_a_frozen_model(model_dir: Path, item_files: list[tuple[Path, Path]], tmp_path: Path):
    """Fine-tune the model a few steps, save it, start a frozen encoder from it (`weights`)."""
    torch.manual_seed(0)
    tuned = make(model_dir, freeze="false", dropout="0")
    items = raws(tuned, item_files)
    batch = tuned.collate([tuned.featurize(r) for r in items])
    opt = torch.optim.Adam(tuned.trainable_parameters(), lr=1e-2)
    tuned.train()
    for _ in range(3):
        loss = tuned(batch).pow(2).mean()  # any loss: only the weights' provenance matters here
        opt.zero_grad()
        loss.backward()
        opt.step()
    save_atomic(encoder_state(tuned), tmp_path / "tuned.pt")
    saved = {k: v.clone() for k, v in tuned.backbone.state_dict().items()}

    plain = make(model_dir)
    enc = make(model_dir, weights=str(tmp_path / "tuned.pt"))
    for k, v in enc.backbone.state_dict().items():
        assert torch.equal(v, saved[k]), f"backbone {k} is not the fine-tuned one"
    assert any(not torch.equal(v, plain.backbone.state_dict()[k]) for k, v in saved.items())
    assert all(not p.requires_grad for p in enc.backbone.parameters())
    # the frozen features come from the fine-tuned model, and the cache key says so
    assert not torch.allclose(enc.featurize(items[0]), plain.featurize(items[0]))
    assert enc.feature_key() != plain.feature_key()
    # its checkpoints carry the weights (they are not the folder's), so the file may go away
    assert any(k.startswith("backbone.") for k in encoder_state(enc)["state_dict"])
    check_encoder(lambda: make(model_dir, weights=str(tmp_path / "tuned.pt")), items)
    state = encoder_state(enc)
    (tmp_path / "tuned.pt").unlink()
    twin = restore_encoder(state, HFAudio)
    assert torch.equal(twin.featurize(items[0]), enc.featurize(items[0]))
    assert twin.feature_key() == enc.feature_key()


def test_weights_that_do_not_fit_are_refused(model_dir: Path, tmp_path: Path):
    save_atomic(encoder_state(make(model_dir)), tmp_path / "frozen.pt")
    with pytest.raises(InputError, match=r"frozen.pt: the saved audio/hf holds no backbone weights"):
        make(model_dir, weights=str(tmp_path / "frozen.pt"))
    other = tiny_wav2vec2(tmp_path / "other")
    (other / "config.json").write_text(
        (other / "config.json").read_text().replace('"hidden_act"', '"_x": 1, "hidden_act"')
    )
    save_atomic(encoder_state(make(other, freeze="false")), tmp_path / "other.pt")
    with pytest.raises(InputError, match=r"other.pt: the saved audio/hf was fine-tuned from other model files"):
        make(model_dir, weights=str(tmp_path / "other.pt"))
