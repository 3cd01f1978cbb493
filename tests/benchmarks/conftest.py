"""Fixtures for the benchmark scripts' tests (pyproject's pytest `pythonpath` puts `benchmarks/`
on the path, so the scripts import as modules): a registry of the kit's trainer parts; the tiny
dataset with a test split, `split_data`, is in tests/conftest.py."""

from __future__ import annotations

import pytest

from ugaar_kit.registry.components import Registry
from ugaar_kit.testing.parts import registry as parts_registry


@pytest.fixture
def registry() -> Registry:
    return parts_registry("trainer")
