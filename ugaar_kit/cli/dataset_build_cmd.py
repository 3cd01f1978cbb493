"""(being implemented)"""

from __future__ import annotations

from collections.abc import Callable

import typer

from ..registry import Registry


def add(app: typer.Typer, get_registry: Callable[[], Registry]) -> None:
    """Add this module's commands to the `dataset` group."""
