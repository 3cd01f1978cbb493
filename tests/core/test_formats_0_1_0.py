"""What ugaar-kit 0.1.0 wrote still loads and gives the same embeddings (tests/fixtures/v0_1_0:
a dataset folder, a run folder of the built-in `flat` encoders and `cca`, and an HDF5 store)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ugaar_kit.inference.run import Run
from ugaar_kit.interfaces.dataset import DatasetFolder
from ugaar_kit.store.reader import Store

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "v0_1_0"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def folder() -> DatasetFolder:
    return DatasetFolder(FIXTURE / "data")


def test_a_0_1_0_dataset_folder_reads_as_it_did(folder: DatasetFolder) -> None:
    root = (FIXTURE / "data").resolve()
    got = [
        {
            "id": it.id,
            "song": it.song,
            "split": it.split,
            "audio": it.audio.relative_to(root).as_posix() if it.audio else None,
            "sheet": it.sheet.relative_to(root).as_posix() if it.sheet else None,
            "lyrics": it.lyrics,
            "group": it.group,
            "meta": it.meta,
        }
        for it in folder.items
    ]
    assert got == EXPECTED["items"]
    assert list(folder.modalities()) == EXPECTED["modalities"] == ["audio", "sheet", "lyrics"]
    assert all(set(it.inputs) == {"audio", "sheet", "lyrics"} for it in folder.items)


def test_a_0_1_0_run_gives_the_embeddings_it_gave(folder: DatasetFolder) -> None:
    run = Run.load(FIXTURE / "run")
    assert run.modalities == ("audio", "sheet")
    for m in run.modalities:
        got = run.embed(m, [it.get(m) for it in folder.items]).numpy()
        np.testing.assert_allclose(got, np.array(EXPECTED["embeddings"][m]), rtol=1e-5, atol=1e-6)


def test_a_0_1_0_store_reads_and_matches_the_run() -> None:
    run = Run.load(FIXTURE / "run")
    with Store(FIXTURE / "store.h5") as store:
        assert store.format_version == 1 and store.tool_version == "0.1.0" and store.run_id == run.run_id
        for m in ("audio", "sheet"):
            sources = [str(s) for s in store.sources(m)]
            assert len(sources) == 14
            again = run.embed(m, [FIXTURE / "data" / s for s in sources]).numpy()
            np.testing.assert_allclose(np.asarray(store.embeddings(m)), again, rtol=1e-5, atol=1e-6)
