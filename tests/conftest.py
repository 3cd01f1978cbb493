"""Shared fixtures: the LMD sample from ../shared (skipped when absent), one torch thread,
training in float32, and the tiny melody datasets of `ugaar_kit.testing.data` (the trainer's
and the benchmarks' tests)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from ugaar_kit.testing.data import write_dataset

REPO = Path(__file__).resolve().parents[1]
LMD_DIR = Path(os.environ.get("UGAAR_KIT_LMD", REPO.parent / "shared" / "data" / "lmd-lyrics-melody"))
SPLITS = {"train": 40, "valid": 12, "test": 16}
"""The splits of `split_data`."""

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def float32_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Train in float32 whatever the CPU: with `amp` (the default) a CPU with native bfloat16
    would train in it, and the tests' tiny models and margins would depend on the machine.
    The tests of mixed precision patch `native_bf16` back themselves."""
    from ugaar_kit.infra import distributed

    monkeypatch.setattr(distributed, "native_bf16", lambda: False)


@pytest.fixture(scope="session")
def lmd_dir() -> Path:
    """The shared LMD lyrics-melody sample (its `Sentence_Parsing/` and `songs.json`)."""
    if not (LMD_DIR / "Sentence_Parsing").is_dir():
        pytest.skip(f"LMD sample not found at {LMD_DIR} (set UGAAR_KIT_LMD)")
    return LMD_DIR


@pytest.fixture(scope="session")
def tiny_data_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("tiny") / "data")


@pytest.fixture(scope="session")
def split_data_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Melodies in train, valid and test whose rows carry their notes (for the syllable-count
    baseline) as the builder's manifests do."""
    return write_dataset(tmp_path_factory.mktemp("split") / "data", SPLITS, notes=True, name="tiny-split-melodies")


@pytest.fixture
def tiny_data(tiny_data_master: Path, tmp_path: Path) -> Path:
    """A fresh copy of the tiny dataset (32 train, 12 valid melodies), with no feature cache."""
    return Path(shutil.copytree(tiny_data_master, tmp_path / "data"))


@pytest.fixture
def split_data(split_data_master: Path, tmp_path: Path) -> Path:
    """A fresh copy of the tiny dataset with a test split (40 train, 12 valid, 16 test melodies)."""
    return Path(shutil.copytree(split_data_master, tmp_path / "data"))
