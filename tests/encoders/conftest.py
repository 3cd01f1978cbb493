"""Fixtures of the encoder tests: melodies as WAV files and engraved PNGs (see `encoder_items`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from encoder_items import Melody, random_melodies, write_png, write_wav


@pytest.fixture(scope="session")
def melodies() -> list[Melody]:
    return random_melodies(24, seed=1)


@pytest.fixture(scope="session")
def item_files(tmp_path_factory: pytest.TempPathFactory, melodies: list[Melody]) -> list[tuple[Path, Path]]:
    """(WAV, PNG) of every melody."""
    root = tmp_path_factory.mktemp("items")
    return [(write_wav(root / f"m{i}.wav", m), write_png(root / f"m{i}.png", m)) for i, m in enumerate(melodies)]
