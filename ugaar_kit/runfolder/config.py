"""The configuration of a training run: settings, the components chosen, and their options.

A run is described by one TOML file. Top-level keys are the settings (one per `train` flag);
a table per slot (`[audio]`, `[sheet]`, `[lyrics]`, `[objective]`, or a plugin's modality) names
its component with the reserved key `name` and holds its options under the same keys as
`-o SLOT.key=value`::

    data = "songs-ds"
    epochs = 20
    [audio]
    name = "cnn"
    n_mels = 128
    [objective]
    name = "dcca"

Precedence: built-in defaults < `--config FILE` < command-line flags and `-o`. The resolved
config (every option written out) is saved as `RUN/config.toml`, and reading it back rebuilds
the same run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import tomllib

from ugaar_kit.errors import InputError, OptionError
from ugaar_kit.infra.atomic import write_text
from ugaar_kit.interfaces import options as opts
from ugaar_kit.interfaces.options import Seconds, option

Schedule = Literal["cosine", "constant"]
SCHEDULES: tuple[str, ...] = ("cosine", "constant")
"""The learning-rate schedules (`ugaar_kit.training.schedule` computes them)."""

CONFIG_FILE = "config.toml"
DEFAULT_EPOCHS = 30
"""Epochs when neither `epochs` nor `max_time` is given."""
DEFAULT_PATIENCE = 10
"""Validations without a better MRR that stop a run not bounded by a decaying budget."""
NAME_KEY = "name"
"""The reserved key of a component table that names the component."""


@dataclass(frozen=True)
class TrainSettings:
    """Every `ugaar-kit train` flag but the component choices (those live in the slot tables)."""

    data: Path | None = option(None, "dataset folder (manifest.jsonl), built by 'ugaar-kit dataset build'")
    out: Path | None = option(None, "run folder to create; it holds everything embed/eval/search need")
    epochs: int | None = option(
        None, f"passes over the training split; default {DEFAULT_EPOCHS}, or as many as max_time allows", min=0
    )
    max_time: Seconds | None = option(
        None,
        "wall-clock budget of the training loop (steps and validations; not feature caching or encoder "
        "fitting), e.g. 90s, 15m, 1h30m; total across --resume",
    )
    schedule: Schedule = option(
        "cosine", "learning rate: linear warm-up then cosine decay to 0 over the run (cosine), or constant"
    )
    warmup: int = option(100, "warm-up steps of the cosine schedule (at most a tenth of its steps)", min=0)
    valid_every: Seconds | None = option(
        None,
        "validate at an epoch's end only when this much training time (e.g. 30s) passed since the last "
        "validation (the last epoch is always validated); default every epoch",
    )
    batch_size: int | None = option(
        None,
        "items per batch and process; default 64, or for objectives that need more rows a batch (deep CCA: "
        "more than the widest encoder output) the power of two at or above twice their minimum",
        min=1,
    )
    song_run: int | None = option(
        None,
        "make each batch of runs of this many training items of one song, so a song's passages are one "
        "another's negatives; 0 = items at random; default 2 when the training items include windows of "
        "score pages (a --whole-songs build: locating an excerpt in its song asks the model to tell the "
        "song's stretches apart), else 0 (docs/benchmarks.md)",
        min=0,
    )
    lr: float = option(1e-3, "learning rate of the main optimizer (Adam)", min=0.0)
    weight_decay: float = option(0.0, "Adam weight decay of the main optimizer", min=0.0)
    clip_norm: float = option(0.0, "clip each optimizer's gradient norm to this; 0 = no clipping", min=0.0)
    seed: int = option(0, "seed of weights, batch order and dropout; same seed, same run on the CPU")
    device: str = option("auto", "auto (CUDA when present), cpu, cuda or cuda:N")
    amp: bool = option(
        True,
        "mixed precision: float16 autocast + gradient scaling on CUDA, bfloat16 autocast on a CPU with native "
        "bfloat16 (AVX-512 BF16 or AMX); ignored on other CPUs",
    )
    patience: int | None = option(
        None,
        f"stop after this many epochs without a better validation MRR; 0 = never; default {DEFAULT_PATIENCE}, or "
        "never with max_time and the cosine schedule (it decays to 0 at the budget's end, where the best epochs are)",
        min=0,
    )
    select: tuple[str, ...] = option(
        (),
        "retrieval directions (e.g. audio->sheet,sheet->audio) whose mean validation MRR picks the best epoch "
        "and drives early stopping; empty = every direction of the run",
    )
    fit_sample: int = option(
        2048,
        "training items the objective's closed-form parts (CCA projections) are fitted on before each "
        "validation, so the best epoch is chosen on the model as it will be used; 0 = running state",
        min=0,
    )
    workers: int | None = option(
        None, "processes that build the feature cache; 0 = this process; default: cores, at most 4", min=0
    )
    cache_dir: Path | None = option(
        None, "where feature caches live (default DATA/.cache, or RUN/cache if DATA is read-only)"
    )
    resume: Path | None = option(None, "continue the interrupted run in this folder (its config.toml applies)")

    @property
    def stop_patience(self) -> int:
        """`patience` as the run applies it: as given, else 0 (never) for a budgeted run on the
        cosine schedule, whose learning rate falls to 0 as the budget ends, else `DEFAULT_PATIENCE`."""
        if self.patience is not None:
            return self.patience
        return 0 if self.max_time is not None and self.schedule == "cosine" else DEFAULT_PATIENCE


SETTING_KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TrainSettings))
LEGACY_SETTINGS: dict[str, Any] = {"schedule": "constant"}
"""Settings whose default changed: a run folder whose config.toml lacks the key was trained with
this value, and resumes with it."""
RESUME_MAY_CHANGE = frozenset({"epochs", "patience", "device", "workers", "cache_dir", "resume", "out", "amp"})
"""Settings a resumed run may change; anything else would make it a different run."""


@dataclass
class ComponentSpec:
    """One slot's component: its registered name (None: not chosen yet) and option values."""

    name: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunConfig:
    """Settings plus one `ComponentSpec` per slot (modalities and `objective`)."""

    settings: TrainSettings = field(default_factory=TrainSettings)
    components: dict[str, ComponentSpec] = field(default_factory=dict)

    def spec(self, slot: str) -> ComponentSpec:
        return self.components.setdefault(slot, ComponentSpec())

    @property
    def objective(self) -> ComponentSpec:
        return self.spec("objective")

    def encoders(self) -> dict[str, ComponentSpec]:
        """The modality slots, in the order they were given."""
        return {s: c for s, c in self.components.items() if s != "objective"}

    def replace(self, **changes: Any) -> RunConfig:
        return RunConfig(dataclasses.replace(self.settings, **changes), self.components)


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file as a dict, or InputError naming the file and the line of a syntax error."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(path, "no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"invalid TOML ({exc})") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text (byte {exc.start}); TOML files are UTF-8") from None
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror})") from None


def parse_config(raw: Mapping[str, Any], slots: Iterable[str], where: str | Path = "config") -> RunConfig:
    """A `RunConfig` from TOML values; unknown keys and tables raise InputError naming them.

    Setting values are validated here; component options are validated when the component is
    known (see `assemble`)."""
    slots = tuple(slots)
    values: dict[str, Any] = {}
    components: dict[str, ComponentSpec] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            if key not in slots:
                raise InputError(where, f"unknown table [{key}] (known: {', '.join(slots)})")
            spec = ComponentSpec(options=dict(value))
            name = spec.options.pop(NAME_KEY, None)
            if name is not None and not isinstance(name, str):
                raise InputError(where, f"[{key}] name must be a string, got {name!r}")
            spec.name = name
            components[key] = spec
        elif key in slots:
            raise InputError(where, f"'{key}' must be a table: [{key}] with name = \"...\" and its options")
        elif key not in SETTING_KEYS:
            raise InputError(
                where, f"unknown key '{key}' (known: {', '.join(SETTING_KEYS)}, and tables {', '.join(slots)})"
            )
        else:
            values[key] = value
    try:
        settings = opts.build(TrainSettings, values)
    except OptionError as exc:
        raise InputError(where, str(exc)) from None
    return RunConfig(settings, components)


def merge(
    base: RunConfig,
    settings: Mapping[str, Any] | None = None,
    names: Mapping[str, str | None] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> RunConfig:
    """`base` with command-line values on top: given settings, component names, `-o` options.

    Values that are None in `settings` and `names` were not given and leave `base` alone."""
    given = {k: v for k, v in (settings or {}).items() if v is not None}
    current = {k: getattr(base.settings, k) for k in SETTING_KEYS}
    current.update(given)
    merged_settings = opts.build(TrainSettings, {k: v for k, v in current.items() if v is not None})
    components = {s: ComponentSpec(c.name, dict(c.options)) for s, c in base.components.items()}
    for slot, name in (names or {}).items():
        if name is not None:
            components.setdefault(slot, ComponentSpec()).name = name
    for slot, values in (overrides or {}).items():
        components.setdefault(slot, ComponentSpec()).options.update(values)
    return RunConfig(merged_settings, components)


def load_config(path: Path, slots: Iterable[str]) -> RunConfig:
    """Read and parse a run config file."""
    return parse_config(read_toml(path), slots, where=path)


def to_toml_dict(config: RunConfig) -> dict[str, Any]:
    """Plain TOML values: settings (None left out, paths as strings) then one table per slot."""
    out: dict[str, Any] = {}
    for key, value in opts.to_dict(config.settings).items():
        if value is not None and key != "resume":
            out[key] = value
    for slot, spec in config.components.items():
        table: dict[str, Any] = {}
        if spec.name is not None:
            table[NAME_KEY] = spec.name
        for key, value in spec.options.items():
            if value is not None:
                table[key] = (
                    str(value) if isinstance(value, Path) else list(value) if isinstance(value, tuple) else value
                )
        out[slot] = table
    return out


def dumps(config: RunConfig) -> str:
    import tomli_w

    return tomli_w.dumps(to_toml_dict(config))


def write_config(config: RunConfig, path: Path) -> None:
    """Write `config` as TOML atomically (a temporary file renamed over `path`)."""
    write_text(path, dumps(config))


def _same(key: str, a: Any, b: Any) -> bool:
    if isinstance(a, Path) or isinstance(b, Path):
        return a is not None and b is not None and Path(a).resolve() == Path(b).resolve()
    return bool(a == b)


def resolve_config(
    config_file: Path | None,
    settings: Mapping[str, Any],
    names: Mapping[str, str | None],
    overrides: Mapping[str, Mapping[str, Any]],
    slots: Iterable[str],
) -> RunConfig:
    """The run config from a config file (optional) and command-line values (None: not given).

    With `resume` (flag or key), the run folder's own `config.toml` is the base: only
    `RESUME_MAY_CHANGE` settings may differ, and a different component or option is refused."""
    slots = tuple(slots)
    base = load_config(config_file, slots) if config_file is not None else RunConfig()
    resume = settings.get("resume") or base.settings.resume
    if resume is None:
        return merge(base, settings, names, overrides)
    if config_file is not None and base.settings.resume is None:
        raise OptionError("--config and --resume cannot be combined: a resumed run keeps its own config.toml")
    run_dir = Path(resume)
    if not (run_dir / CONFIG_FILE).is_file():
        raise InputError(run_dir, f"not a run folder to resume (no {CONFIG_FILE})")
    raw = read_toml(run_dir / CONFIG_FILE)
    run = parse_config(raw, slots, where=run_dir / CONFIG_FILE)
    legacy = {k: v for k, v in LEGACY_SETTINGS.items() if k not in raw}
    if legacy:
        run = RunConfig(dataclasses.replace(run.settings, **legacy), run.components)
    coerced = opts.build(TrainSettings, {k: v for k, v in settings.items() if v is not None})
    for key, value in settings.items():
        if value is None or key in RESUME_MAY_CHANGE:
            continue
        given, current = getattr(coerced, key), getattr(run.settings, key)
        if not _same(key, given, current):
            raise OptionError(f"cannot change '{key}' when resuming (the run has {current}, given {given})")
    if settings.get("out") is not None and not _same("out", Path(settings["out"]), run_dir):
        raise OptionError(f"--out {settings['out']} differs from the run being resumed ({run_dir})")
    for slot, name in names.items():
        has = run.components.get(slot, ComponentSpec()).name
        if name is not None and has != name:
            raise OptionError(
                f"cannot change the {slot} component when resuming (the run has {has or 'none'}, given {name})"
            )
    if any(overrides.values()):
        raise OptionError("component options cannot change when resuming (drop -o)")
    allowed = {k: v for k, v in settings.items() if k in RESUME_MAY_CHANGE and k not in ("out", "resume")}
    merged = merge(run, allowed)
    return merged.replace(resume=run_dir, out=run_dir)
