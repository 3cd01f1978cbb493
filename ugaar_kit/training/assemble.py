"""From a run config to components: which modalities are trained, by which encoders, and checks.

The modalities are those given an encoder (`--audio NAME`, `[audio] name = ...`). When they are
fewer than the objective needs, its `requires` and then its `default_modalities` fill in, and a
modality with no encoder named gets its default (`Registry.default_encoder`: the encoder that
declares `default = True`); every such choice is returned
as a note for the user to see. Combinations that cannot work raise one-line errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ugaar_kit.errors import OptionError, PluginError
from ugaar_kit.interfaces import options as opts
from ugaar_kit.interfaces.encoder import Encoder
from ugaar_kit.interfaces.modality import canonical_order
from ugaar_kit.interfaces.objective import Objective
from ugaar_kit.registry.components import Component, Registry
from ugaar_kit.runfolder.config import ComponentSpec, RunConfig


def slots_of(registry: Registry) -> tuple[str, ...]:
    """Slots `-o` and config tables may address: the built-in ones and every plugin modality."""
    extra = [m for m in registry.modalities() if m not in opts.SLOTS]
    return (*opts.SLOTS, *extra)


@dataclass
class Plan:
    """The resolved choice of components for a run, with options validated."""

    modalities: tuple[str, ...]
    encoders: dict[str, Component]
    encoder_options: dict[str, Any]
    objective: Component
    objective_options: Any
    notes: list[str] = field(default_factory=list)
    config: RunConfig = field(default_factory=RunConfig)

    @property
    def trainable(self) -> bool:
        """False for an objective with nothing to train (class attribute `trainable = False`)."""
        return bool(getattr(self.objective.cls, "trainable", True))

    def build_encoders(self) -> dict[str, Encoder]:
        """Fresh encoders (weights from the current torch seed), by modality."""
        return {m: self.encoders[m].cls(self.encoder_options[m]) for m in self.modalities}

    def build_objective(self, dims: Mapping[str, int]) -> Objective:
        """The objective for encoders of output widths `dims`; a ValueError becomes OptionError."""
        try:
            return self.objective.cls(self.objective_options, {m: dims[m] for m in self.modalities})
        except ValueError as exc:
            raise OptionError(str(exc)) from None


def choose_modalities(objective: type[Objective], named: Sequence[str]) -> tuple[list[str], list[str]]:
    """(modalities, added): those named plus what the objective needs (`requires`, then
    `default_modalities` until their count is one the objective takes)."""
    mods = list(named)
    added: list[str] = []

    def add(m: str) -> None:
        if m not in mods:
            mods.append(m)
            added.append(m)

    for m in sorted(objective.requires):
        add(m)
    if not named:
        for m in objective.default_modalities:
            add(m)
    else:
        for m in objective.default_modalities:
            if len(mods) in objective.n_views or len(mods) >= max(objective.n_views):
                break
            add(m)
    return list(canonical_order(mods)), added


def plan_run(config: RunConfig, registry: Registry, available: Sequence[str] | None = None, data: str = "") -> Plan:
    """Resolve `config` against `registry`; `available`: the modalities the dataset holds.

    Raises OptionError/PluginError/InputError with one line naming what is wrong."""
    obj_name = config.objective.name
    if not obj_name:
        known = ", ".join(registry.names("objective")) or "none installed"
        raise OptionError(f"no objective chosen: give --objective NAME (known: {known})")
    obj_comp = registry.get("objective", obj_name)
    obj_cls: type[Objective] = obj_comp.cls

    specs = config.encoders()
    named = [m for m in canonical_order(specs) if specs[m].name]
    mods, added = choose_modalities(obj_cls, named)
    try:
        obj_cls.check_modalities(mods)
    except ValueError as exc:
        raise OptionError(str(exc)) from None

    unused = [s for s, spec in specs.items() if s not in mods and (spec.options or spec.name)]
    if unused:
        raise OptionError(
            f"options for '{unused[0]}' were given but this run does not train the {unused[0]} modality "
            f"(modalities: {', '.join(mods)})"
        )
    if available is not None:
        missing = [m for m in mods if m not in available]
        if missing:
            has = ", ".join(available) or "none"
            raise OptionError(
                f"objective '{obj_name}' trains {', '.join(mods)} but the dataset {data} has no {missing[0]} (it has: {has})"
            )

    notes: list[str] = []
    if added:
        notes.append(f"objective '{obj_name}' needs {', '.join(mods)}: added {', '.join(added)}")
    encoders: dict[str, Component] = {}
    encoder_options: dict[str, Any] = {}
    resolved = RunConfig(config.settings, {})
    for m in mods:
        spec = specs.get(m, ComponentSpec())
        name = spec.name
        if not name:
            default = registry.default_encoder(m)
            if default is None:
                known = ", ".join(registry.names("encoder", m)) or "none installed"
                raise PluginError(
                    f"objective '{obj_name}' needs the {m} modality and no installed {m} encoder is its default: "
                    f"give --encoder {m}=NAME (known {m} encoders: {known})"
                )
            name = default.name
            notes.append(f"{m}: no encoder named, using the default '{name}' (choose with --encoder {m}=NAME)")
        comp = registry.get("encoder", name, m)
        encoders[m] = comp
        encoder_cls: type[Encoder] = comp.cls
        encoder_options[m] = opts.build(encoder_cls.Options, spec.options, prefix=m)
        resolved.components[m] = ComponentSpec(name, opts.to_dict(encoder_options[m]))
    obj_options: Any = opts.build(obj_cls.Options, config.objective.options, prefix="objective")
    resolved.components["objective"] = ComponentSpec(obj_name, opts.to_dict(obj_options))
    return Plan(tuple(mods), encoders, encoder_options, obj_comp, obj_options, notes, resolved)


DEFAULT_BATCH = 64
"""Items per batch and process when `--batch-size` is not given and the objective is content."""


def auto_batch_size(objective: Objective, world: int = 1) -> int:
    """The per-process batch when `--batch-size` is not given: the objective's `default_batch`
    (64 when it has none; `contrastive`: 128), or, for an objective whose
    `min_batch` is above that (deep CCA needs more rows than the widest view), the power of two
    at or above twice the widest view (`min_batch - 1`), shared among `world` processes: 256 for
    the default 128-wide encoders under `dcca` or `ugaar`."""
    need = int(getattr(objective, "min_batch", 1) or 1)
    preferred = int(getattr(objective, "default_batch", None) or DEFAULT_BATCH)
    if need <= preferred * world:
        return preferred
    target = 1 << (2 * (need - 1) - 1).bit_length()  # the power of two at or above 2 x (need - 1)
    return -(-target // world)


def check_batch_size(objective: Objective, batch_size: int, what: str = "--batch-size {n}") -> None:
    """Refuse batches the objective cannot train on (`batch_size`: rows `loss` sees, i.e. the
    global batch under torchrun).

    Reads the objective's `min_batch` (deep CCA needs more rows than dimensions) and, if it
    defines one, calls `check_batch_size(n)`, which raises ValueError with its reason."""
    name = getattr(objective, "name", type(objective).__name__)
    minimum = getattr(objective, "min_batch", None)
    if isinstance(minimum, int) and batch_size < minimum:
        raise OptionError(f"{what.format(n=batch_size)}: objective '{name}' needs at least {minimum} rows per batch")
    hook = getattr(objective, "check_batch_size", None)
    if callable(hook):
        try:
            hook(batch_size)
        except ValueError as exc:
            raise OptionError(f"{what.format(n=batch_size)}: {exc}") from None


def choose_batch_size(
    objective: Objective, name: str, given: int | None, *, world: int, train_items: int, trains: bool
) -> tuple[int, str | None]:
    """The per-process batch of a run and the line that explains a default one (None when the
    user gave it); OptionError when the training split cannot fill one step of it (`trains`: the
    run trains at least one epoch) or the objective cannot train on it (`name`: the objective's)."""
    batch_size = given or auto_batch_size(objective, world)
    note = None
    if given is None and batch_size == getattr(objective, "default_batch", None):
        note = f"batch size {batch_size}: objective '{name}' default (choose with --batch-size)"
    elif given is None and batch_size != DEFAULT_BATCH:
        note = (
            f"batch size {batch_size}: objective '{name}' needs more than {objective.min_batch - 1} rows a batch, "
            "the encoders' widest output (choose with --batch-size, or narrow the encoders with -o MODALITY.dim=N)"
        )
    if not trains:
        return batch_size, note
    global_batch = batch_size * world
    if train_items < global_batch:
        need = int(getattr(objective, "min_batch", 1) or 1)
        most = train_items // world
        if need > most:
            hint = (
                f"; objective '{name}' needs more than {need - 1} rows a batch, the "
                f"encoders' widest output: narrow the encoders (-o MODALITY.dim=N, N below {most})"
            )
        else:
            hint = (
                f"; choose --batch-size from {need} to {most}" if need > 1 else f"; choose --batch-size {most} or less"
            )
        raise OptionError(
            f"--batch-size {batch_size}: the training split has only {train_items} items"
            + (f" ({world} processes take {global_batch} a step)" if world > 1 else "")
            + hint
        )
    what = "--batch-size {n}" if world == 1 else f"--batch-size {batch_size} x {world} processes = {{n}} rows"
    check_batch_size(objective, global_batch, what)
    return batch_size, note
