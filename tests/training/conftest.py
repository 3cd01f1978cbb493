"""Fixtures for the trainer's tests: a tiny dataset folder and a registry of tiny components."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tiny_parts import tiny_registry, write_dataset

from ugaar_kit.registry import Registry


@pytest.fixture(scope="session")
def tiny_data_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("tiny") / "data")


@pytest.fixture
def tiny_data(tiny_data_master: Path, tmp_path: Path) -> Path:
    """A fresh copy of the tiny dataset (32 train, 12 valid melodies), with no feature cache."""
    return Path(shutil.copytree(tiny_data_master, tmp_path / "data"))


@pytest.fixture
def registry() -> Registry:
    return tiny_registry()
