"""The linear-CCA baseline end to end: parameter-free `flat` encoders with the `cca` objective
(nothing trains: the trainer featurizes, fits PCA + CCA on the training split and saves)."""

from __future__ import annotations

import json

import torch
from rich.console import Console
from ugaar_kit_plugins.flat_features.audio import FlatAudio
from ugaar_kit_plugins.flat_features.sheet import FlatSheet
from ugaar_kit_plugins.objective_cca.objective import LinearCCA

from ugaar_kit import Run
from ugaar_kit.interfaces.dataset import DatasetFolder
from ugaar_kit.registry.components import Registry
from ugaar_kit.runfolder.config import RunConfig, merge
from ugaar_kit.training.trainer import Trainer


def flat_registry() -> Registry:
    reg = Registry()
    for cls in (FlatAudio, FlatSheet, LinearCCA):
        reg.add(cls, "ugaar-kit", "test", "flat-features")
    return reg


def test_flat_encoders_with_cca_fit_save_and_embed(tiny_data, tmp_path):
    registry = flat_registry()
    run = tmp_path / "run"
    config = merge(
        RunConfig(),
        {"data": tiny_data, "out": run, "workers": 0, "epochs": 5, "batch_size": 8},
        {"audio": "flat", "sheet": "flat", "objective": "cca"},
        # 32 training items: at most 31 canonical components; the tiny passages are 5-20 frames
        {"audio": {"frames": 16, "n_mels": 32}, "sheet": {"height": 16, "width": 48}, "objective": {"dim": 8}},
    )
    trainer = Trainer(config, registry, console=Console(quiet=True))
    trainer.run()
    assert not (run / "metrics.jsonl").exists()  # no epochs: nothing to train
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished" and info["dims"] == {"audio": 32 * 16, "sheet": 16 * 48}
    assert info["shared_dim"] == 8
    final = info["final"]["valid"]
    chance = final["audio->sheet"]["chance_MRR"]  # 0.26 for a pool of 12
    for direction in ("audio->sheet", "sheet->audio"):
        assert final[direction]["pool"] == 12
        # measured: audio->sheet 0.58, sheet->audio 0.51
        assert final[direction]["MRR"] > chance + 0.15, (direction, final[direction]["MRR"], chance)
    state = torch.load(run / "model.pt", weights_only=True)
    assert state["encoders"]["audio"]["state_dict"] == {} and state["encoders"]["sheet"]["state_dict"] == {}

    loaded = Run.load(run, registry)
    items = DatasetFolder(tiny_data).split("valid")
    audio = loaded.embed("audio", [it.audio for it in items], batch_size=5)
    sheet = loaded.embed("sheet", [it.sheet for it in items], batch_size=5)
    assert audio.shape == sheet.shape == (12, 8)
    torch.testing.assert_close(audio, trainer.valid_embeddings["audio"], rtol=0, atol=1e-5)
    torch.testing.assert_close(sheet, trainer.valid_embeddings["sheet"], rtol=0, atol=1e-5)
