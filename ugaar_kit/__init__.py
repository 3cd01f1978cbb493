"""ugaar-kit: sheet music, audio and lyrics in one embedding space.

The core defines the interfaces (`ugaar_kit.interfaces`: `Encoder`, `Objective`, `ScoreSource`,
`ItemSource`), the plugin registry and the stages that run them; the built-in encoders,
objectives and datasets are plugins. CONTRIBUTING.md maps the packages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ugaar_kit import _moved
from ugaar_kit.registry.hookspecs import hookimpl
from ugaar_kit.version import __version__

_moved.install()  # the import paths of 0.1.0 keep working for one release

if TYPE_CHECKING:
    from ugaar_kit.inference.run import Run
    from ugaar_kit.store.reader import Store

__all__ = ["Run", "Store", "__version__", "hookimpl"]


def __getattr__(name: str) -> Any:
    """Lazy exports, so `import ugaar_kit` does not import torch models."""
    if name == "Run":
        from ugaar_kit.inference.run import Run

        return Run
    if name == "Store":
        from ugaar_kit.store.reader import Store

        return Store
    raise AttributeError(f"module 'ugaar_kit' has no attribute {name!r}")
