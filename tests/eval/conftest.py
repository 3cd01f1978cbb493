"""Fixtures for the `eval` tests: a dataset folder of songs, run folders of the kit's `eval` parts
(`ugaar_kit.testing`), and the app with `eval`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ugaar_kit.cli import eval_cmd
from ugaar_kit.cli.base import App
from ugaar_kit.registry.components import Registry
from ugaar_kit.testing.data import write_songs
from ugaar_kit.testing.parts import registry as parts_registry
from ugaar_kit.testing.runs import write_run


@pytest.fixture(scope="session")
def registry() -> Registry:
    return parts_registry("eval")


@pytest.fixture(scope="session")
def songs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """14 test songs, 46 passages, 42 candidates (4 passages repeated verbatim)."""
    return write_songs(tmp_path_factory.mktemp("eval") / "songs")


@pytest.fixture(scope="session")
def run3(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> Path:
    """An untrained run of audio, sheet and lyrics."""
    return write_run(tmp_path_factory.mktemp("runs") / "three", kind="eval", run_id="evalrun-1", registry=registry)


@pytest.fixture(scope="session")
def run2(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> Path:
    """An untrained run of audio and sheet only."""
    return write_run(
        tmp_path_factory.mktemp("runs") / "two", ("audio", "sheet"), kind="eval", run_id="evalrun-2", registry=registry
    )


def eval_app(registry: Registry) -> App:
    """A root app with only `eval` (and `version`, so Typer keeps `eval` a subcommand)."""
    app = App(name="ugaar-kit")
    eval_cmd.add(app, lambda: registry)

    @app.command("version")
    def version() -> None:
        """Placeholder second command."""

    return app


@pytest.fixture(scope="session")
def invoke(registry: Registry):
    """`invoke(*args)` runs `ugaar-kit eval *args` and returns the click Result."""
    app = eval_app(registry)

    def run(*args: object):
        return CliRunner(env={"COLUMNS": "250"}).invoke(app, ["eval", *map(str, args)])

    return run


@pytest.fixture
def invoke_piped(registry: Registry):
    """`invoke` with no COLUMNS: what a pipe or a file gets."""
    app = eval_app(registry)

    def run(*args: object):
        return CliRunner(env={"COLUMNS": None}).invoke(app, ["eval", *map(str, args)])

    return run
