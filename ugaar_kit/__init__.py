"""ugaar-kit: sheet music, audio and lyrics in one embedding space.

The core defines the interfaces (`Encoder`, `Objective`, `ScoreSource`, `ItemSource`), the
plugin registry and the CLI; the built-in encoders, objectives and datasets are plugins.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .hookspecs import hookimpl

try:
    __version__ = version("ugaar-kit")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = ["__version__", "hookimpl"]
