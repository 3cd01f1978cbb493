"""Import paths of 0.1.0 that moved in the package layout of 0.2.0, kept working for one release.

`import ugaar_kit.encoder` (or `from ugaar_kit.encoder import Encoder`) gives the module at its
new home, `ugaar_kit.interfaces.encoder`: the very same module object, so a class imported
either way is the same class, and a test that patches one path patches the other. Each old path
warns once with a `DeprecationWarning` naming the new one. Type checkers see only the new paths.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

MOVED: dict[str, str] = {
    "ugaar_kit.atomic": "ugaar_kit.infra.atomic",
    "ugaar_kit.distributed": "ugaar_kit.infra.distributed",
    "ugaar_kit.envvars": "ugaar_kit.infra.envvars",
    "ugaar_kit.progress": "ugaar_kit.infra.progress",
    "ugaar_kit.baseline": "ugaar_kit.interfaces.baseline",
    "ugaar_kit.dataset": "ugaar_kit.interfaces.dataset",
    "ugaar_kit.encoder": "ugaar_kit.interfaces.encoder",
    "ugaar_kit.modality": "ugaar_kit.interfaces.modality",
    "ugaar_kit.objective": "ugaar_kit.interfaces.objective",
    "ugaar_kit.options": "ugaar_kit.interfaces.options",
    "ugaar_kit.rows": "ugaar_kit.interfaces.rows",
    "ugaar_kit.score": "ugaar_kit.interfaces.score",
    "ugaar_kit.state": "ugaar_kit.interfaces.state",
    "ugaar_kit.discovery": "ugaar_kit.registry.discovery",
    "ugaar_kit.hookspecs": "ugaar_kit.registry.hookspecs",
    "ugaar_kit.lyrics_text": "ugaar_kit.data.lyrics_text",
    "ugaar_kit.media": "ugaar_kit.data.media",
    "ugaar_kit.walk": "ugaar_kit.data.walk",
    "ugaar_kit.augment": "ugaar_kit.toolkit.augment",
    "ugaar_kit.cca": "ugaar_kit.toolkit.cca",
    "ugaar_kit.deep_cca": "ugaar_kit.toolkit.deep_cca",
    "ugaar_kit.frontends": "ugaar_kit.toolkit.frontends",
    "ugaar_kit.infonce": "ugaar_kit.toolkit.infonce",
    "ugaar_kit.layers": "ugaar_kit.toolkit.layers",
    "ugaar_kit.model_folder": "ugaar_kit.toolkit.model_folder",
    "ugaar_kit.onsets": "ugaar_kit.toolkit.onsets",
    "ugaar_kit.pretrained": "ugaar_kit.toolkit.pretrained",
    "ugaar_kit.run": "ugaar_kit.inference.run",
    "ugaar_kit.embedding": "ugaar_kit.inference.embedding",
    "ugaar_kit.evaluation": "ugaar_kit.retrieval.evaluation",
    "ugaar_kit.metrics": "ugaar_kit.retrieval.metrics",
    "ugaar_kit.search": "ugaar_kit.retrieval.search",
    "ugaar_kit.demo": "ugaar_kit.recipes.demo",
    "ugaar_kit.training.checkpoint": "ugaar_kit.runfolder.checkpoint",
    "ugaar_kit.training.config": "ugaar_kit.runfolder.config",
    "ugaar_kit.training.ddp": "ugaar_kit.infra.distributed",
    "ugaar_kit.training.feature_cache": "ugaar_kit.features.cache",
    "ugaar_kit.training.run_folder": "ugaar_kit.runfolder.files",
}
"""Old module path -> new; a moved package's submodules follow it (`ugaar_kit.embedding.files`)."""


def new_home(name: str) -> str | None:
    """Where the module once importable as `name` lives now; None if it did not move."""
    if name in MOVED:
        return MOVED[name]
    package, _, rest = name.rpartition(".")
    while package:
        if package in MOVED:
            return f"{MOVED[package]}.{name[len(package) + 1 :]}"
        package, _, rest = package.rpartition(".")
    return None


class _OldPaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path and loads it as the module at its new home (imported there first)."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        new = new_home(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=False)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = new_home(spec.name)
        assert new is not None
        warnings.warn(
            f"{spec.name} moved to {new} (ugaar-kit 0.2.0); the old path goes in the next release",
            DeprecationWarning,
            stacklevel=2,  # the import statement: warnings skips the import system's frames
        )
        module = importlib.import_module(new)
        self._specs[spec.name] = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The import system set `module.__spec__` to the old path's spec: give it back its own.
        for old, spec in list(self._specs.items()):
            if spec is not None and spec.name == module.__name__:
                module.__spec__ = spec
                del self._specs[old]

    def __init__(self) -> None:
        self._specs: dict[str, importlib.machinery.ModuleSpec | None] = {}


def install() -> None:
    """Put the finder first on `sys.meta_path` (once)."""
    if not any(isinstance(f, _OldPaths) for f in sys.meta_path):
        sys.meta_path.insert(0, _OldPaths())
