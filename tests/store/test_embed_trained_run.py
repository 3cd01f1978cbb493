"""`embed` and `search` with a run the real trainer made (the trainer tests' tiny melodies: the
audio and the sheet image of an item carry the same notes, so retrieval is learnable)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console

from ugaar_kit.inference.embedding import EmbedSettings, embed_paths
from ugaar_kit.inference.run import Run
from ugaar_kit.retrieval.search import top_k
from ugaar_kit.store.reader import Store
from ugaar_kit.testing.data import write_dataset
from ugaar_kit.testing.parts import registry as parts_registry


def test_store_of_a_trained_run_equals_run_embed_and_retrieves_above_chance(tmp_path):
    from ugaar_kit.runfolder.config import RunConfig, merge
    from ugaar_kit.training.trainer import train

    registry = parts_registry("trainer")
    data = write_dataset(tmp_path / "data", {"train": 32, "valid": 12}, modalities=("audio", "sheet"))
    values = {"data": data, "out": tmp_path / "run", "batch_size": 8, "workers": 0, "lr": 1e-2, "epochs": 10}
    values["schedule"] = "constant"  # as measured (0.40); the cosine default decays 1e-2 within 40 steps
    config = merge(RunConfig(), values, {"audio": "tiny", "sheet": "cnn", "objective": "infonce"}, {})
    train(config, registry, console=Console(quiet=True), progress=False)
    run = Run.load(tmp_path / "run", registry=registry)

    out = tmp_path / "emb.h5"
    summary = embed_paths(run, [data / "audio", data / "sheet"], out, EmbedSettings(batch_size=16, workers=1))
    assert (summary.files, summary.skipped) == (88, [])
    with Store(out) as store:
        assert store.run_id == run.run_id and store.config["objective"]["name"] == "infonce"
        audio_ids = store.ids("audio").tolist()
        sheet_ids = store.ids("sheet").tolist()
        audio = store.embeddings("audio")[:]
        sheet = store.embeddings("sheet")[:]
    # the store holds what Run.embed gives for the same files
    expect = run.embed("audio", [data / name for name in audio_ids]).numpy()
    np.testing.assert_allclose(audio, expect, atol=1e-5)
    # sheet -> audio over all 44 items: each sheet's own audio ranks high
    names = [Path(i).stem for i in audio_ids]
    _, order = top_k(sheet, audio, len(audio_ids))
    ranks = np.array([list(order[q]).index(names.index(Path(s).stem)) + 1 for q, s in enumerate(sheet_ids)])
    mrr = float(np.mean(1.0 / ranks))
    chance = float(np.mean(1.0 / np.arange(1, len(names) + 1)))  # 0.099 for 44 items
    assert mrr > chance + 0.2, (mrr, chance)  # measured: 0.40
