"""Fixtures for the embedding store's tests: a tiny run folder of the kit's `store` parts
(`ugaar_kit.testing`), a second run, a CLI, and a folder of good and bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ugaar_kit.inference.run import Run
from ugaar_kit.registry.components import Registry
from ugaar_kit.testing.data import write_embed_folder
from ugaar_kit.testing.parts import registry as parts_registry
from ugaar_kit.testing.runs import write_run
from ugaar_kit.testing.store_cli import store_app


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_run(tmp_path_factory.mktemp("run") / "run-a", seed=0)


@pytest.fixture(scope="session")
def other_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_run(tmp_path_factory.mktemp("run") / "run-b", seed=1)


@pytest.fixture(scope="session")
def registry() -> Registry:
    return parts_registry("store")


@pytest.fixture
def run(run_dir: Path, registry: Registry) -> Run:
    return Run.load(run_dir, registry=registry)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_embed_folder(tmp_path / "data", tmp_path / "elsewhere")


@pytest.fixture
def cli(registry: Registry):
    """`cli(*args)` -> click Result of the embed/search/store commands."""
    app = store_app(registry)
    runner = CliRunner()

    def invoke(*args: object):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke
