"""`ugaar-kit dataset`: build triplet datasets from score sources, or the bundled demo data."""

from __future__ import annotations

from collections.abc import Callable

import typer

from ugaar_kit.cli import dataset_build_cmd, dataset_demo_cmd
from ugaar_kit.cli.base import App
from ugaar_kit.registry.components import Registry


def make(get_registry: Callable[[], Registry]) -> typer.Typer:
    app = App(help="Build datasets of sheet-image / audio / lyrics triplets.")
    dataset_build_cmd.add(app, get_registry)
    dataset_demo_cmd.add(app, get_registry)
    return app
