"""Shared fixtures: the LMD sample from ../shared (skipped when absent), one torch thread."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
LMD_DIR = Path(os.environ.get("UGAAR_KIT_LMD", REPO.parent / "shared" / "data" / "lmd-lyrics-melody"))

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def lmd_dir() -> Path:
    """The shared LMD lyrics-melody sample (its `Sentence_Parsing/` and `songs.json`)."""
    if not (LMD_DIR / "Sentence_Parsing").is_dir():
        pytest.skip(f"LMD sample not found at {LMD_DIR} (set UGAAR_KIT_LMD)")
    return LMD_DIR
