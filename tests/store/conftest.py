"""Fixtures for the embedding store's tests: a tiny run folder, a second run, a CLI, and a
folder of good and bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_run import build_cli, fake_registry, make_folder, make_run
from typer.testing import CliRunner

from ugaar_kit.registry import Registry
from ugaar_kit.run import Run


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("run") / "run-a", seed=0)


@pytest.fixture(scope="session")
def other_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("run") / "run-b", seed=1)


@pytest.fixture(scope="session")
def registry() -> Registry:
    return fake_registry()


@pytest.fixture
def run(run_dir: Path, registry: Registry) -> Run:
    return Run.load(run_dir, registry=registry)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "data", tmp_path / "elsewhere")


@pytest.fixture
def cli(registry: Registry):
    """`cli(*args)` -> click Result of the embed/search/store commands."""
    app = build_cli(registry)
    runner = CliRunner()

    def invoke(*args: object):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke
