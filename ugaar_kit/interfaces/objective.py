"""The alignment-objective interface: how encoder outputs are trained into one shared space.

The trainer encodes a batch of aligned items with every branch and hands the `(B, D_m)`
outputs to `training_step(views, optimizers)`. The objective computes its losses and steps the
optimizers it needs, so an adversarial objective can run a discriminator step and a generator
step in its own order while the trainer never knows which objective it runs.

After training, `fit(views)` may compute closed-form parts on the training set (CCA
projections), and `project(modality, z)` maps an encoder's output into the shared space that
`embed`, `eval` and `search` use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ugaar_kit.interfaces import options as opts
from ugaar_kit.interfaces.options import NoOptions

Views = Mapping[str, Tensor]
"""Encoder outputs of one batch by modality: `{"audio": (B, D_a), "sheet": (B, D_s), ...}`."""


class Optimizers:
    """The optimizers of a run by name, with the gradient scaler (mixed precision) and clipping.

    `"main"` always exists: it holds every encoder's trainable parameters and the objective's
    parameters not claimed by another group (see `Objective.parameter_groups`).
    """

    def __init__(
        self,
        optimizers: Mapping[str, torch.optim.Optimizer],
        scaler: torch.amp.GradScaler | None = None,
        clip_norm: float | None = None,
    ) -> None:
        self.optimizers = dict(optimizers)
        self.scaler = scaler
        self.clip_norm = clip_norm

    def __getitem__(self, name: str) -> torch.optim.Optimizer:
        return self.optimizers[name]

    def __contains__(self, name: object) -> bool:
        return name in self.optimizers

    def zero_grad(self) -> None:
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=True)

    def step(self, name: str, loss: Tensor, retain_graph: bool = False) -> None:
        """Back-propagate `loss` and step optimizer `name` (scaled and clipped as configured).

        Only that optimizer's gradients are cleared first; gradients left on other parameters
        by this backward pass are cleared before their own optimizer steps."""
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward(retain_graph=retain_graph)
            self.scaler.unscale_(opt)
        else:
            loss.backward(retain_graph=retain_graph)
        if self.clip_norm:
            params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
            torch.nn.utils.clip_grad_norm_(params, self.clip_norm)
        if self.scaler is not None:
            self.scaler.step(opt)
            self.scaler.update()
        else:
            opt.step()

    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: v.state_dict() for k, v in self.optimizers.items()}
        if self.scaler is not None:
            out["__scaler__"] = self.scaler.state_dict()
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for k, v in self.optimizers.items():
            v.load_state_dict(state[k])
        if self.scaler is not None and "__scaler__" in state:
            self.scaler.load_state_dict(state["__scaler__"])


class Objective(nn.Module):
    """An alignment objective; subclass it and register the class from a plugin.

    Class attributes: `name`, `description` (one line), `Options` (dataclass), `n_views` (the
    numbers of modalities it accepts, e.g. `(2,)`, `(3,)` or `(2, 3)`), `requires` (modalities
    that must be among them), `default_modalities` (what it trains when the user names none).
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions
    n_views: ClassVar[tuple[int, ...]] = (2, 3)
    requires: ClassVar[frozenset[str]] = frozenset()
    default_modalities: ClassVar[tuple[str, ...]] = ()
    trainable: ClassVar[bool] = True
    """False for an objective with nothing to train (linear CCA on fixed features): the trainer
    takes no gradient steps and goes straight to `fit`."""

    def __init__(self, options: Any, dims: Mapping[str, int]) -> None:
        """`dims`: the output width of each modality's encoder, in the order of the views."""
        super().__init__()
        self.options = options if options is not None else self.Options()
        self.check_modalities(dims)
        self.dims = dict(dims)
        self.modalities = tuple(dims)

    @classmethod
    def from_options(cls, values: dict[str, Any] | None, dims: Mapping[str, int]) -> Objective:
        """Build from user values (strings or TOML values), validating every key."""
        return cls(opts.build(cls.Options, values, prefix="objective"), dims)

    @classmethod
    def check_modalities(cls, modalities: Iterable[str]) -> None:
        """Raise ValueError naming the count or the missing modality if this cannot train them."""
        mods = list(modalities)
        if len(mods) not in cls.n_views:
            allowed = " or ".join(str(n) for n in cls.n_views)
            raise ValueError(f"objective '{cls.name}' takes {allowed} modalities, got {len(mods)} ({', '.join(mods)})")
        missing = sorted(cls.requires - set(mods))
        if missing:
            raise ValueError(f"objective '{cls.name}' needs the {', '.join(missing)} modality")

    def loss(self, views: Views) -> dict[str, Tensor]:
        """Scalar losses: `"objective"` is minimised, every other entry is logged."""
        raise NotImplementedError

    def parameter_groups(self) -> dict[str, dict[str, Any]]:
        """Extra optimizers this objective needs: `{name: {"params": [...], "lr": ..., ...}}`.

        Parameters not listed here are optimised by `"main"` with the encoders."""
        return {}

    progress: float = 0.0
    """How far training has come, in [0, 1]: the trainer calls `set_progress` before every step
    with the learning-rate schedule's progress (0 through the warm-up, 1 at the planned end, the
    same on every process and after a resume). An objective that changes what it trains as the
    run goes on (stages, warm-ups) reads it."""

    def set_progress(self, fraction: float) -> None:
        self.progress = min(1.0, max(0.0, float(fraction)))

    def training_step(self, views: Views, optimizers: Optimizers) -> dict[str, float]:
        """One update from a batch's encoder outputs; returns the terms to log as floats."""
        out = self.loss(views)
        optimizers.step("main", out["objective"])
        return {k: float(v.detach()) for k, v in out.items()}

    def validation_loss(self, views: Views) -> dict[str, float]:
        """Loss terms on held-out outputs (no update)."""
        with torch.no_grad():
            return {k: float(v) for k, v in self.loss(views).items()}

    def fit(self, views: Views) -> None:
        """After training: closed-form parts from the whole training set's encoder outputs."""

    default_batch: int | None = None
    """The batch this objective trains best on when `--batch-size` is not given (None: the
    trainer's 64). InfoNCE gains from more negatives: `contrastive` asks for 128."""

    @property
    def min_batch(self) -> int:
        """The smallest batch `loss` accepts (deep CCA needs more rows than dimensions)."""
        return 2

    @property
    def shared_dim(self) -> int:
        """The width of the shared space `project` maps into (default: the encoders' common D)."""
        return next(iter(self.dims.values()))

    def project(self, modality: str, z: Tensor) -> Tensor:
        """An encoder's output `(B, D_m)` mapped into the shared space `(B, shared_dim)`."""
        return z
