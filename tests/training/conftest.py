"""Fixtures for the trainer's tests: a registry of the kit's trainer parts (the tiny datasets
are in tests/conftest.py)."""

from __future__ import annotations

import pytest

from ugaar_kit.registry.components import Registry
from ugaar_kit.testing.parts import registry as parts_registry


@pytest.fixture
def registry() -> Registry:
    return parts_registry("trainer")
