"""The pretrained branch: an audio CNN trained against a sheet CNN (InfoNCE), saved, then loaded
as frozen weights (`weights=PATH`, `freeze=true`) from an encoder state, a run checkpoint or a
run folder; mismatching files are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch.nn import functional as F
from ugaar_kit_plugins.audio_cnn.encoder import AudioCNN
from ugaar_kit_plugins.sheet_cnn.encoder import SheetCNN

from ugaar_kit.errors import InputError
from ugaar_kit.interfaces.encoder import Encoder
from ugaar_kit.interfaces.state import encoder_state, restore_encoder, save_atomic
from ugaar_kit.testing import check_encoder

AUDIO = {"channels": "8,16,32", "hidden": 64, "dim": 32, "dropout": 0.0}
SHEET = {"channels": "8,16,32", "hidden": 64, "dim": 32, "dropout": 0.0, "height": 48}
N_TRAIN = 16
STEPS = 40


def info_nce(a: torch.Tensor, b: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    logits = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / tau
    target = torch.arange(len(a))
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def mrr(a: torch.Tensor, b: torch.Tensor) -> float:
    sims = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T
    ranks = (sims > sims.diag().unsqueeze(1)).sum(dim=1) + 1
    return float((1.0 / ranks.float()).mean())


def features(enc: Encoder, paths: list[Path]) -> list[torch.Tensor]:
    return [enc.featurize(enc.load_item(p)) for p in paths]


@pytest.fixture(scope="module")
def trained(item_files: list[tuple[Path, Path]], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Audio and sheet CNNs trained together for a few full-batch steps, saved three ways."""
    torch.manual_seed(0)
    audio, sheet = AudioCNN.from_options(AUDIO), SheetCNN.from_options(SHEET)
    wavs, pngs = [w for w, _ in item_files[:N_TRAIN]], [p for _, p in item_files[:N_TRAIN]]
    fa, fs = audio.collate(features(audio, wavs)), sheet.collate(features(sheet, pngs))
    opt = torch.optim.Adam([*audio.parameters(), *sheet.parameters()], lr=3e-3)
    losses = []
    audio.train(), sheet.train()
    for _ in range(STEPS):
        loss = info_nce(audio(fa), sheet(fs))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    audio.eval(), sheet.eval()
    with torch.no_grad():
        score = mrr(audio(fa), sheet(fs))
    root = tmp_path_factory.mktemp("weights")
    save_atomic(encoder_state(audio), root / "audio.pt")
    run = root / "run"
    save_atomic(
        {"format": "ugaar-kit-run", "encoders": {"audio": encoder_state(audio), "sheet": encoder_state(sheet)}},
        run / "model.pt",
    )
    return {
        "audio": audio,
        "sheet": sheet,
        "losses": losses,
        "mrr": score,
        "root": root,
        "run": run,
        "fa": fa,
        "fs": fs,
    }


def test_audio_and_sheet_learn_the_pairing(trained: dict[str, Any]):
    losses = trained["losses"]
    chance = torch.log(torch.tensor(float(N_TRAIN))).item()
    assert losses[0] == pytest.approx(chance, abs=0.5)
    # measured: 2.89 -> 1.44 (mean of the last 5 steps), training-set MRR 0.68
    assert sum(losses[-5:]) / 5 < 0.6 * losses[0], f"InfoNCE went from {losses[0]:.2f} to {losses[-1]:.2f}"
    # chance MRR for 16 candidates is about 0.21
    assert trained["mrr"] > 0.5, f"training-set audio->sheet MRR {trained['mrr']:.2f}"


def body_state(enc: Encoder) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in enc.body.state_dict().items()}  # type: ignore[union-attr]


def test_frozen_weights_from_an_encoder_state(trained: dict[str, Any]):
    saved = body_state(trained["audio"])
    enc = AudioCNN.from_options({**AUDIO, "weights": str(trained["root"] / "audio.pt"), "freeze": "true"})
    for k, v in enc.body.state_dict().items():
        assert torch.equal(v, saved[k]), f"body {k} differs from the saved weights"
    assert all(not p.requires_grad for p in enc.body.parameters())
    assert all(p.requires_grad for p in enc.head.parameters())
    assert {id(p) for p in enc.trainable_parameters()} == {id(p) for p in enc.head.parameters()}

    # one training step against the (trained) sheet embeddings: only the head moves
    head_before = [p.detach().clone() for p in enc.head.parameters()]
    opt = torch.optim.Adam(enc.trainable_parameters(), lr=1e-2)
    enc.train()
    assert not enc.body.training, "a frozen body stays in eval mode (BatchNorm statistics fixed)"
    with torch.no_grad():
        target = trained["sheet"].eval()(trained["fs"])
    loss = info_nce(enc(trained["fa"]), target)
    loss.backward()
    assert all(p.grad is None for p in enc.body.parameters())
    opt.step()
    for k, v in enc.body.state_dict().items():
        assert torch.equal(v, saved[k]), f"frozen body {k} changed in training"
    assert any(not torch.equal(a, b) for a, b in zip(head_before, enc.head.parameters()))


def test_frozen_encoder_passes_conformance(trained: dict[str, Any], item_files: list[tuple[Path, Path]]):
    path = str(trained["root"] / "audio.pt")
    raws = [AudioCNN().load_item(w) for w, _ in item_files[:3]]
    check_encoder(lambda: AudioCNN.from_options({**AUDIO, "weights": path, "freeze": "true"}), raws)


def test_weights_from_a_run_checkpoint_and_folder(trained: dict[str, Any]):
    saved = body_state(trained["sheet"])
    for where in (trained["run"] / "model.pt", trained["run"]):
        enc = SheetCNN.from_options({**SHEET, "weights": str(where)})
        for k, v in enc.body.state_dict().items():
            assert torch.equal(v, saved[k])
        assert all(p.requires_grad for p in enc.parameters()), "freeze defaults to false: fine-tune everything"


def test_mismatching_weights_are_refused(trained: dict[str, Any], tmp_path: Path):
    root = trained["root"]
    with pytest.raises(InputError, match=r"audio.pt: .*audio.n_mels=80, but this encoder has 64"):
        AudioCNN.from_options({**AUDIO, "n_mels": 64, "weights": str(root / "audio.pt")})
    with pytest.raises(InputError, match=r"audio.channels=\[8, 16, 32\], but this encoder has \[8, 16, 64\]"):
        AudioCNN.from_options({**AUDIO, "channels": "8,16,64", "weights": str(root / "audio.pt")})
    with pytest.raises(InputError, match=r"holds a audio/cnn encoder, not sheet/cnn"):
        SheetCNN.from_options({**SHEET, "weights": str(root / "audio.pt")})
    save_atomic({"encoders": {"audio": encoder_state(trained["audio"])}}, tmp_path / "audio_only.pt")
    with pytest.raises(InputError, match=r"the run checkpoint has no sheet encoder \(it has: audio\)"):
        SheetCNN.from_options({**SHEET, "weights": str(tmp_path / "audio_only.pt")})
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match=r"junk.pt: not a readable ugaar-kit checkpoint"):
        AudioCNN.from_options({**AUDIO, "weights": str(tmp_path / "junk.pt")})
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(InputError, match=r"no checkpoint in this folder"):
        AudioCNN.from_options({**AUDIO, "weights": str(tmp_path / "empty_run")})


def test_a_saved_run_does_not_need_the_weights_file(trained: dict[str, Any], tmp_path: Path):
    path = tmp_path / "gone.pt"
    save_atomic(encoder_state(trained["audio"]), path)
    enc = AudioCNN.from_options({**AUDIO, "weights": str(path), "freeze": "true"}).eval()
    state = encoder_state(enc)
    with torch.no_grad():
        ref = enc(trained["fa"])
    path.unlink()
    twin = restore_encoder(state, AudioCNN).eval()  # the checkpoint brings the body
    with torch.no_grad():
        assert torch.allclose(twin(trained["fa"]), ref, atol=1e-6)
    lost = AudioCNN.from_options({**AUDIO, "weights": str(path), "freeze": "true"})
    with pytest.raises(InputError, match=r"gone.pt: weights file not found"):
        lost(trained["fa"])
