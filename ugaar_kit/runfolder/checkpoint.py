"""Run checkpoints: plain tensors and values that rebuild the encoders and the objective.

Format (`torch.save` of a dict, loaded with `weights_only=True`):

    format          "ugaar-kit-run"
    format_version  1
    tool_version    ugaar-kit version that wrote it
    run_id          the run's id (also in run.json)
    modalities      ["audio", "sheet", ...], the views' order
    encoders        {modality: encoder_state(enc) + "distribution", "version"}
    objective       {"name", "options", "dims", "state_dict", "distribution", "version"}
    config          the resolved run config as TOML values
    epoch           epochs trained when it was written
    shared_dim      width of the shared space

`last.pt` adds `optimizers`, `rng` and `trainer` (best score, epochs without improvement) so
`--resume` continues exactly where the run stopped.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ugaar_kit.errors import InputError, PluginError
from ugaar_kit.interfaces import options as opts
from ugaar_kit.interfaces.encoder import Encoder
from ugaar_kit.interfaces.objective import Objective
from ugaar_kit.interfaces.state import encoder_state, load_safe, restore_encoder, save_atomic
from ugaar_kit.registry.components import Component, Registry
from ugaar_kit.version import __version__

FORMAT = "ugaar-kit-run"
FORMAT_VERSION = 1


def model_state(
    run_id: str,
    encoders: Mapping[str, Encoder],
    components: Mapping[str, Component],
    objective: Objective,
    objective_component: Component,
    config: Mapping[str, Any],
    epoch: int,
) -> dict[str, Any]:
    """The checkpoint dict of a model (see the module doc); tensors are moved to the CPU."""
    encs: dict[str, Any] = {}
    for m, enc in encoders.items():
        st = encoder_state(enc)
        st["state_dict"] = _cpu(st["state_dict"])
        st["distribution"] = components[m].distribution
        st["version"] = components[m].version
        encs[m] = st
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tool_version": __version__,
        "run_id": run_id,
        "modalities": list(encoders),
        "encoders": encs,
        "objective": {
            "name": objective_component.name,
            "options": opts.to_dict(objective.options),
            "dims": dict(objective.dims),
            "state_dict": _cpu(objective.state_dict()),
            "distribution": objective_component.distribution,
            "version": objective_component.version,
        },
        "config": dict(config),
        "epoch": int(epoch),
        "shared_dim": int(objective.shared_dim),
    }


def _cpu(state: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in state.items()}


def save(state: Mapping[str, Any], path: Path) -> None:
    save_atomic(dict(state), path)


def load(path: Path) -> dict[str, Any]:
    """A checkpoint dict, checked to be a ugaar-kit run checkpoint this version can read."""
    state = load_safe(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputError(path, "not a ugaar-kit run checkpoint")
    version = state.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise InputError(
            path,
            f"checkpoint format version {version} is newer than this ugaar-kit reads ({FORMAT_VERSION}); upgrade ugaar-kit",
        )
    return state


def _component(
    registry: Registry, kind: str, name: str, modality: str | None, entry: Mapping[str, Any], path: Path
) -> Any:
    try:
        return registry.get(kind, name, modality).cls
    except PluginError as exc:
        origin = f" (from {entry.get('distribution')} {entry.get('version')})" if entry.get("distribution") else ""
        raise InputError(path, f"the run needs {kind} '{name}'{origin}, which is not installed: {exc}") from None


def restore_encoders(state: Mapping[str, Any], registry: Registry, path: Path = Path("?")) -> dict[str, Encoder]:
    """The encoders of a checkpoint, rebuilt from their registered classes."""
    out: dict[str, Encoder] = {}
    for m, entry in state["encoders"].items():
        cls = _component(registry, "encoder", entry["name"], m, entry, path)
        out[m] = restore_encoder(entry, cls)
    return out


def restore_objective(state: Mapping[str, Any], registry: Registry, path: Path = Path("?")) -> Objective:
    """The objective of a checkpoint with its trained and fitted state."""
    entry = state["objective"]
    cls = _component(registry, "objective", entry["name"], None, entry, path)
    objective = cls.from_options(dict(entry["options"]), dict(entry["dims"]))
    objective.load_state_dict(entry["state_dict"])
    return objective


def load_into(state: Mapping[str, Any], encoders: Mapping[str, Encoder], objective: Objective) -> None:
    """Copy a checkpoint's weights into existing modules (e.g. the best state after training)."""
    for m, enc in encoders.items():
        enc.load_state_dict(state["encoders"][m]["state_dict"])
    objective.load_state_dict(state["objective"]["state_dict"])


# -- random number generators, as tensors and lists so weights_only loads them ----------------
def capture_rng() -> dict[str, Any]:
    """The torch (CPU and CUDA), NumPy and Python generator states."""
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()  # type: ignore[misc]
    py_version, py_state, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
        "numpy": {
            "name": str(np_name),
            "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "gauss": float(np_gauss),
        },
        "python": {"version": int(py_version), "state": torch.tensor(py_state, dtype=torch.int64), "gauss": py_gauss},
    }


def restore_rng(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(x) for x in p["state"].tolist()), p["gauss"]))


def resumable(state: Mapping[str, Any], optimizers: Mapping[str, Any], trainer: Mapping[str, Any]) -> dict[str, Any]:
    """`last.pt`: a model state with what `--resume` needs besides: the optimizers' state, the
    random generators' state and the trainer's (best score, budget and schedule)."""
    return {**state, "optimizers": dict(optimizers), "rng": capture_rng(), "trainer": dict(trainer)}


class Checkpoints:
    """A run's checkpoints in its folder (rank 0 writes them): `best.pt` at every better
    validation, `last.pt` at every epoch's end (with what `--resume` needs), `model.pt` at the
    end. `config` gives the resolved run config as TOML values when a checkpoint is written."""

    def __init__(
        self,
        folder: Path,
        run_id: str,
        encoders: Mapping[str, Encoder],
        components: Mapping[str, Component],
        objective: Objective,
        objective_component: Component,
        config: Callable[[], Mapping[str, Any]],
    ) -> None:
        self.folder = folder
        self._parts = (run_id, encoders, components, objective, objective_component)
        self._config = config

    def state(self, epoch: int) -> dict[str, Any]:
        run_id, encoders, components, objective, objective_component = self._parts
        return model_state(run_id, encoders, components, objective, objective_component, self._config(), epoch)

    def save(self, name: str, epoch: int, **resume: Any) -> None:
        """Write `name` (best.pt, last.pt, model.pt) with the state after `epoch` epochs; `resume`
        (optimizers, trainer) makes it resumable (see `resumable`)."""
        state = self.state(epoch)
        save(resumable(state, resume["optimizers"], resume["trainer"]) if resume else state, self.folder / name)

    def restore(self, name: str) -> bool:
        """Load `name`'s weights into the encoders and the objective; False when there is none."""
        path = self.folder / name
        if not path.is_file():
            return False
        _, encoders, _, objective, _ = self._parts
        load_into(load(path), encoders, objective)
        return True
