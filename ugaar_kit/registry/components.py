"""The registry of components, keyed by (kind, modality, name), filled from plugins.

`cnn` the audio encoder and `cnn` the sheet encoder are two components. Every entry records
the distribution that registered it, so a duplicate is reported with both owners.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ugaar_kit.errors import PluginError

if TYPE_CHECKING:  # imported where needed: Encoder and Objective import torch
    from ugaar_kit.interfaces.encoder import Encoder
    from ugaar_kit.interfaces.objective import Objective

KINDS = ("encoder", "objective", "dataset", "baseline")
DISTRIBUTION = "ugaar-kit"
"""This package's distribution: its built-in plugins win a tie between defaults."""


@dataclass(frozen=True)
class Component:
    """One registered class and who provides it."""

    kind: str
    modality: str | None
    name: str
    cls: type
    distribution: str
    version: str
    plugin: str

    @property
    def description(self) -> str:
        doc = getattr(self.cls, "description", "") or (self.cls.__doc__ or "").strip().splitlines()[0:1]
        return doc if isinstance(doc, str) else (doc[0] if doc else "")

    @property
    def options_class(self) -> type:
        """The component's options dataclass."""
        return getattr(self.cls, "Options")  # noqa: B009 - every component class has one

    @property
    def key(self) -> tuple[str, str | None, str]:
        return (self.kind, self.modality, self.name)

    @property
    def label(self) -> str:
        """`audio/cnn`, `ugaar`, `lmd-lyrics`: how messages name the component."""
        return f"{self.modality}/{self.name}" if self.modality else self.name


def kind_of(cls: type) -> tuple[str, str | None]:
    """(kind, modality) of a component class, or PluginError if it is none of the interfaces.

    The interfaces are imported here, and torch's (`Encoder`, `Objective`) only for a class that
    is not a dataset source or a baseline, so registering those keeps torch unloaded."""
    from ugaar_kit.interfaces.baseline import Baseline
    from ugaar_kit.interfaces.dataset import ItemSource, ScoreSource

    if not isinstance(cls, type):
        raise PluginError(f"register() takes a class, got {type(cls).__name__} (register classes, not instances)")
    if issubclass(cls, (ScoreSource, ItemSource)):
        return "dataset", None
    if issubclass(cls, Baseline):
        return "baseline", None
    from ugaar_kit.interfaces.encoder import Encoder
    from ugaar_kit.interfaces.objective import Objective

    if issubclass(cls, Encoder):
        modality = getattr(cls, "modality", None)
        if not isinstance(modality, str) or not modality:
            raise PluginError(f"encoder class {cls.__qualname__} has no 'modality'")
        return "encoder", modality
    if issubclass(cls, Objective):
        return "objective", None
    raise PluginError(f"{cls.__qualname__} is not an Encoder, Objective, ScoreSource, ItemSource or Baseline subclass")


class Registry:
    """Components by (kind, modality, name).

    A kind may be filled on first use (`defer`): the process-wide registry asks the plugins for
    their encoders (which import torch) only when a command looks for an encoder, so building a
    dataset or reading a store never loads a model library."""

    def __init__(self) -> None:
        self._components: dict[tuple[str, str | None, str], Component] = {}
        self._unfilled: dict[str, Callable[[], None]] = {}
        self.problems: list[str] = []
        """One line per plugin that failed to load or register (reported, then skipped)."""
        self.on_problem: Callable[[str], None] | None = None
        """Told of each problem found from now on (the CLI prints it as a warning)."""

    def add_problem(self, message: str) -> None:
        self.problems.append(message)
        if self.on_problem is not None:
            self.on_problem(message)

    def defer(self, kind: str, fill: Callable[[], None]) -> None:
        """Call `fill` (which registers the components of `kind`) when that kind is first asked for."""
        self._unfilled[kind] = fill

    def _ensure(self, kind: str | None = None) -> None:
        """Fill `kind` (every kind when None) if it was deferred."""
        for k in [kind] if kind is not None else list(self._unfilled):
            fill = self._unfilled.pop(k, None)
            if fill is not None:
                fill()

    def add(self, cls: type, distribution: str = "unknown", version: str = "", plugin: str = "") -> Component:
        """Record `cls`; raise PluginError naming both owners if its key is taken."""
        kind, modality = kind_of(cls)
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"{kind} class {cls.__qualname__} has no 'name'")
        comp = Component(kind, modality, name, cls, distribution, version, plugin)
        old = self._components.get(comp.key)
        if old is not None:
            raise PluginError(
                f"{kind} '{comp.label}' is registered twice: by {old.distribution} ({old.plugin}) "
                f"and by {distribution} ({plugin}); keeping the first"
            )
        self._components[comp.key] = comp
        return comp

    def __iter__(self):
        self._ensure()
        return iter(sorted(self._components.values(), key=lambda c: (KINDS.index(c.kind), c.modality or "", c.name)))

    def __len__(self) -> int:
        self._ensure()
        return len(self._components)

    def all(self, kind: str | None = None, modality: str | None = None) -> list[Component]:
        self._ensure(kind)
        ordered = sorted(self._components.values(), key=lambda c: (KINDS.index(c.kind), c.modality or "", c.name))
        return [c for c in ordered if (kind is None or c.kind == kind) and (modality is None or c.modality == modality)]

    def names(self, kind: str, modality: str | None = None) -> list[str]:
        return [c.name for c in self.all(kind, modality)]

    def modalities(self) -> list[str]:
        """Every modality some registered encoder handles."""
        return sorted({c.modality for c in self.all("encoder") if c.modality})

    def default_encoder(self, modality: str) -> Component | None:
        """The encoder a run gets for `modality` when it names none: the one that declares
        `default = True`. Where several do, ugaar-kit's own wins, and among plugins alone none
        does (the user must choose); None when no encoder of the modality declares it."""
        claims = [c for c in self.all("encoder", modality) if getattr(c.cls, "default", False) is True]
        if len(claims) > 1:
            claims = [c for c in claims if c.distribution == DISTRIBUTION]
        return claims[0] if len(claims) == 1 else None

    def get(self, kind: str, name: str, modality: str | None = None) -> Component:
        """The component, or PluginError listing the known names."""
        self._ensure(kind)
        comp = self._components.get((kind, modality, name))
        if comp is not None:
            return comp
        what = f"{modality} encoder" if kind == "encoder" else kind
        known = ", ".join(self.names(kind, modality)) or "none installed"
        raise PluginError(f"unknown {what} '{name}' (known: {known})")

    def find(self, name: str, kind: str | None = None, modality: str | None = None) -> list[Component]:
        """Every component called `name` (optionally of one kind or modality)."""
        return [c for c in self.all(kind, modality) if c.name == name or c.label == name]

    def encoder(self, modality: str, name: str) -> type[Encoder]:
        return self.get("encoder", name, modality).cls

    def objective(self, name: str) -> type[Objective]:
        return self.get("objective", name).cls

    def dataset(self, name: str) -> type:
        return self.get("dataset", name).cls

    def extend(self, components: Iterable[Component]) -> None:
        for c in components:
            self._components[c.key] = c
