"""The steps that make a run ready to train, each on its own: the usable items of a split,
encoders fitted on the training split, the feature caches, the optimizers and the `run.json`
a run starts with. `Trainer.prepare` calls them in order; tools can call one alone."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from rich.progress import Progress
from torch import nn

from ugaar_kit.errors import OptionError
from ugaar_kit.features.cache import FeatureCache, cache_path, sources
from ugaar_kit.features.encode import raw_input
from ugaar_kit.infra import distributed as ddp
from ugaar_kit.infra.progress import reporter
from ugaar_kit.interfaces.dataset import DatasetFolder, Item
from ugaar_kit.interfaces.encoder import Encoder
from ugaar_kit.interfaces.objective import Objective, Optimizers
from ugaar_kit.interfaces.state import load_safe, save_atomic
from ugaar_kit.registry.components import Registry
from ugaar_kit.runfolder import files as rf
from ugaar_kit.runfolder.config import RunConfig
from ugaar_kit.training.assemble import Plan, check_batch_size, plan_run
from ugaar_kit.training.selection import check_select
from ugaar_kit.version import __version__

Say = Callable[[str], None]


def usable_items(data: DatasetFolder, split: str, modalities: Sequence[str], say: Say) -> list[Item]:
    """The items of `split` that carry every one of `modalities` (the others are reported)."""
    items = data.split(split)
    usable = [it for it in items if all(it.has(m) for m in modalities)]
    if len(usable) < len(items):
        say(f"{split}: {len(items) - len(usable)} of {len(items)} items lack one of {', '.join(modalities)}; skipped")
    return usable


def fit_encoders(encoders: Mapping[str, Encoder], items: Sequence[Item], out: Path, *, main: bool, say: Say) -> None:
    """Fit the encoders with `needs_fit` on the training split's raw items (rank 0; the other
    processes load its fitted state, so every process featurizes alike)."""
    world = ddp.world_size()
    for m, enc in encoders.items():
        if not enc.needs_fit:
            continue
        shared = out / f".fitted-{m}.pt"
        if main:
            say(f"fitting {m}/{enc.name} on {len(items)} training items")
            enc.fit([raw_input(enc, it.get(m)) for it in items])
            if world > 1:
                save_atomic(enc.state_dict(), shared)
        ddp.barrier()
        if not main:
            enc.load_state_dict(load_safe(shared))
        ddp.barrier()
        if main and world > 1:
            shared.unlink(missing_ok=True)


def _writable(folder: Path) -> bool:
    probe = folder
    while not probe.exists():
        probe = probe.parent
    return os.access(probe, os.W_OK)


def cache_folder(cache_dir: Path | None, data: DatasetFolder, out: Path) -> Path:
    """`--cache-dir`, else the dataset's `.cache` folder, else (read-only data) the run's."""
    if cache_dir is not None:
        return Path(cache_dir)
    default = data.root / ".cache"
    return default if _writable(default) else out / "cache"


def build_caches(
    encoders: Mapping[str, Encoder],
    items: Sequence[Item],
    folder: Path,
    *,
    workers: int,
    main: bool,
    bar: Callable[[], Progress],
    say: Say,
) -> dict[str, FeatureCache]:
    """Every modality's feature cache for `items`, built by rank 0 (with progress from `bar`)
    and opened for reading on every process."""
    caches: dict[str, FeatureCache] = {}
    for m, enc in encoders.items():
        key = enc.feature_key()
        cache = FeatureCache(cache_path(folder, m, key), m, key, f"{m}/{enc.name}")
        cache.on_wait = say
        if main:
            srcs = sources(items, m)
            with bar() as progress:
                report = reporter(progress, f"features {m}/{enc.name}", terms="")
                built = cache.ensure(enc, srcs, workers=workers, progress=report)
            for note in cache.notes:
                say(note)
            say(f"features {m}/{enc.name}: {built} computed, {len(srcs) - built} from the cache {cache.path}")
        caches[m] = cache
    ddp.barrier()
    for cache in caches.values():
        cache.open_read()
    return caches


def spread_sample(items: Sequence[Item], n: int) -> list[str]:
    """The ids of `n` items spread evenly over `items` (all of them when there are fewer)."""
    n = min(n, len(items))
    step = len(items) / n if n else 0
    return [items[int(i * step)].id for i in range(n)]


def make_optimizers(
    encoders: Mapping[str, Encoder],
    objective: Objective,
    plan: Plan,
    *,
    lr: float,
    weight_decay: float,
    clip_norm: float | None,
    scale: bool,
) -> Optimizers:
    """Adam over the encoders' trainable parameters and the objective's own ("main"), and one
    Adam for each of the objective's `parameter_groups` with its settings; with `scale`
    (float16 autocast) a gradient scaler."""
    groups = objective.parameter_groups()
    claimed = {id(p) for g in groups.values() for p in g["params"]}
    seen: set[int] = set()
    main: list[nn.Parameter] = []
    for p in [*(p for e in encoders.values() for p in e.trainable_parameters()), *objective.parameters()]:
        if p.requires_grad and id(p) not in claimed and id(p) not in seen:
            seen.add(id(p))
            main.append(p)
    if not main and plan.trainable:
        raise OptionError(
            f"nothing to train: the encoders ({', '.join(plan.modalities)}) and objective '{plan.objective.name}' "
            "have no trainable parameters"
        )
    optimizers: dict[str, torch.optim.Optimizer] = {}
    if main:
        optimizers["main"] = torch.optim.Adam(main, lr=lr, weight_decay=weight_decay)
    for name, group in groups.items():
        settings = {k: v for k, v in group.items() if k != "params"}
        settings.setdefault("lr", lr)
        optimizers[name] = torch.optim.Adam(group["params"], **settings)
    scaler = torch.amp.GradScaler("cuda") if scale else None
    return Optimizers(optimizers, scaler, clip_norm or None)


def components(plan: Plan, encoders: Mapping[str, Encoder]) -> dict[str, dict[str, Any]]:
    """`run.json`'s `components`: each encoder's and the objective's plugin, version and (for
    encoders) feature key."""
    comps: dict[str, dict[str, Any]] = {
        m: {
            "name": c.name,
            "distribution": c.distribution,
            "version": c.version,
            "plugin": c.plugin,
            "feature_key": encoders[m].feature_key(),
        }
        for m, c in plan.encoders.items()
    }
    o = plan.objective
    comps["objective"] = {"name": o.name, "distribution": o.distribution, "version": o.version, "plugin": o.plugin}
    return comps


def started_info(old: Mapping[str, Any], run_id: str, **fields: Any) -> dict[str, Any]:
    """`run.json` as a run (re)starts: the earlier one's entries, then the format, tool and
    versions, `status: running` and `fields` in their order; `created` keeps its first value,
    and so does `embed` (given as a function, called only when there is none yet)."""
    info = dict(old)
    info.update(
        {
            "format": "ugaar-kit-run-folder",
            "format_version": 1,
            "run_id": run_id,
            "tool": "ugaar-kit",
            "tool_version": __version__,
            "torch_version": torch.__version__,
            "created": old.get("created") or rf.utc_now(),
            "status": "running",
        }
    )
    for key, value in fields.items():
        info[key] = (old.get(key) or value()) if key == "embed" else value
    return info


def plan_for(config: RunConfig, registry: Registry, say: Say) -> tuple[Path, DatasetFolder, Plan]:
    """The run folder, the dataset and the plan of a run (its components resolved against the
    modalities the dataset holds); the plan's notes and the components are said."""
    s = config.settings
    if s.data is None:
        raise OptionError("no dataset: give --data DIR (a folder built by 'ugaar-kit dataset build')")
    if s.out is None:
        raise OptionError("no run folder: give --out RUN")
    data = DatasetFolder(Path(s.data))
    plan = plan_run(config, registry, list(data.inputs_of()), data=str(s.data))
    for note in plan.notes:
        say(note)
    check_select(s.select, plan.modalities)
    labels = ", ".join(f"{m}/{plan.encoders[m].name}" for m in plan.modalities)
    say(f"training {labels} with objective '{plan.objective.name}'")
    return Path(s.out).resolve(), data, plan


def build_components(plan: Plan, resume: Mapping[str, Any] | None) -> tuple[dict[str, Encoder], Objective]:
    """The plan's encoders and objective, with the state of the checkpoint `resume` when given."""
    encoders = plan.build_encoders()
    if resume is not None:
        for m, enc in encoders.items():
            enc.load_state_dict(resume["encoders"][m]["state_dict"])
    objective = plan.build_objective({m: enc.output_dim for m, enc in encoders.items()})
    if resume is not None:
        objective.load_state_dict(resume["objective"]["state_dict"])
    return encoders, objective


def validation_loss_fits(objective: Objective, items: int, say: Say) -> bool:
    """True when the objective can compute its loss on the whole validation split of `items`
    (deep CCA needs more rows than dimensions); else the reason is said and the loss skipped."""
    if not items:
        return True
    try:
        check_batch_size(objective, items, "the validation split ({n} items)")
    except OptionError as exc:
        say(f"validation loss skipped: {exc}")
        return False
    return True
