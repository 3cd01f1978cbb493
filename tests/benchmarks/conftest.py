"""Fixtures for the benchmark scripts' tests: their folder on `sys.path`, a tiny dataset with
a test split, and the tiny real components of the trainer's tests (tests/training/tiny_parts.py)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
for folder in (REPO / "benchmarks", REPO / "tests" / "training"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from tiny_parts import melody, tiny_registry, write_item  # noqa: E402

from ugaar_kit.registry import Registry  # noqa: E402

SPLITS = {"train": 40, "valid": 12, "test": 16}


def write_split_dataset(root: Path, seed: int = 0) -> Path:
    """Melodies of one song each in train, valid and test; rows carry their notes (for the
    syllable-count baseline) as the builder's manifests do."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    k = 0
    for split, n in SPLITS.items():
        for _ in range(n):
            item_id = f"m{k:03d}"
            notes = melody(rng)
            row = {"id": item_id, "song": f"song{k}", "split": split, **write_item(root, item_id, notes)}
            row["notes"] = [[60 + p, 0.0, d] for p, d in notes]
            rows.append(row)
            k += 1
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (root / "dataset.json").write_text(json.dumps({"name": "tiny-split-melodies"}), encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def split_data_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_split_dataset(tmp_path_factory.mktemp("bench") / "data")


@pytest.fixture
def split_data(split_data_master: Path, tmp_path: Path) -> Path:
    """A fresh copy of the tiny dataset (40 train, 12 valid, 16 test melodies)."""
    return Path(shutil.copytree(split_data_master, tmp_path / "data"))


@pytest.fixture
def registry() -> Registry:
    return tiny_registry()
