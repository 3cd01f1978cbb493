"""The hooks a ugaar-kit plugin may implement (entry-point group `ugaar_kit`).

A hook implementation may take fewer arguments than its spec, so specs can grow without
breaking plugins. Register classes, never instances: discovery must not build models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "ugaar_kit"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_encoders(register: Callable[[type], None]) -> None:
    """Register `Encoder` subclasses: call `register(cls)` once for each."""


@hookspec
def register_objectives(register: Callable[[type], None]) -> None:
    """Register `Objective` subclasses: call `register(cls)` once for each."""


@hookspec
def register_datasets(register: Callable[[type], None]) -> None:
    """Register `ScoreSource` and `ItemSource` subclasses: call `register(cls)` once for each."""


@hookspec
def register_baselines(register: Callable[[type], None]) -> None:
    """Register `Baseline` subclasses (rankings `eval` reports beside a run's): call `register(cls)`."""


@hookspec
def register_commands(app: Any) -> None:
    """Add commands to the CLI: `app` is the root `typer.Typer`."""
