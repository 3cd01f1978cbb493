"""Plugins and the components they register: the hook specifications (`hookspecs`), loading
every entry point of the group `ugaar_kit` (`discovery.get_registry`), and the registry keyed by
(kind, modality, name) that stages ask for a component (`components.Registry`, also importable
from here; loaded on first use, so `import ugaar_kit` does not import torch)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ugaar_kit.registry.components import Component, Registry

__all__ = ["Component", "Registry"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from ugaar_kit.registry import components

        return getattr(components, name)
    raise AttributeError(f"module 'ugaar_kit.registry' has no attribute {name!r}")
