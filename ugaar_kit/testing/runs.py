"""Run folders for tests, written without training: `write_run` seeds the random weights of a
set of `parts` and saves them as `model.pt` in the trainer's checkpoint format, so `Run.load`,
`eval`, `embed` and `search` read the folder as any run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from ugaar_kit.registry.components import Registry
from ugaar_kit.runfolder import checkpoint as ckpt
from ugaar_kit.testing import parts
from ugaar_kit.testing.data import MODALITIES


def write_run(
    folder: Path,
    modalities: Sequence[str] = MODALITIES,
    *,
    kind: str = "store",
    seed: int = 0,
    run_id: str | None = None,
    registry: Registry | None = None,
) -> Path:
    """Write `folder/model.pt`: the encoders of `modalities` from the set `kind` of
    `parts.SETS` and its first objective, initialised after `torch.manual_seed(seed)`, as run
    `run_id` (default `fake-<seed>`) of zero epochs. `registry` (default: `parts.registry(kind)`)
    names the components. Returns `folder`."""
    reg = registry if registry is not None else parts.registry(kind)
    chosen = parts.SETS[kind]
    objective_cls = chosen.objectives[0]
    torch.manual_seed(seed)
    encoders = {m: chosen.encoders[m]() for m in modalities}
    objective = objective_cls(objective_cls.Options(), {m: e.output_dim for m, e in encoders.items()})
    components = {m: reg.get("encoder", chosen.encoders[m].name, m) for m in modalities}
    config = {
        "epochs": 0,
        "seed": seed,
        **{m: {"name": chosen.encoders[m].name} for m in modalities},
        "objective": {"name": objective_cls.name},
    }
    component = reg.get("objective", objective_cls.name)
    state = ckpt.model_state(run_id or f"fake-{seed}", encoders, components, objective, component, config, 0)
    folder.mkdir(parents=True, exist_ok=True)
    ckpt.save(state, folder / "model.pt")
    return folder
