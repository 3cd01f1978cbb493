"""Symmetric InfoNCE (CLIP, CLAP): matching items attract, the rest of the batch repels.

For each pair of modalities (a, b) in a batch of B aligned items, with L2-normalised
embeddings and logit scale s = 1 / temperature:

    logits = s * z_a @ z_b^T                                  (B, B)
    loss_ab = (CE(logits, diag) + CE(logits^T, diag)) / 2

and the objective is the weighted mean of the pair losses (`weights`, default 1 each). With
`anchors` (e.g. `audio,sheet`), a pair of an anchor and another modality sees the anchor's
embedding detached: the audio-sheet space is learnt from its own pair only and the lyrics are
aligned to it without moving it (as UGAAR's `detach_targets` does). With `freeze_anchors_at`
(a fraction f of the schedule) the run has two stages: until f only the pairs among the anchors
train (an audio-sheet space), after f only the other pairs, onto the anchors detached (a lyrics
head onto that frozen space), one budget for both. The
logit scale is learnt as `log s` initialised at 1/`temperature` and clamped at
`max_logit_scale` (CLIP: 1/0.07 and 100), or fixed. With `dim`, every view first goes through
its own linear map to `dim` (needed when encoder widths differ). Items repeated verbatim in a
batch act as false negatives: the dataset merges repeats, keep it that way.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ugaar_kit.errors import OptionError
from ugaar_kit.infra.distributed import gather_views
from ugaar_kit.interfaces.objective import Objective, Views
from ugaar_kit.interfaces.options import option
from ugaar_kit.toolkit.infonce import info_nce

from .pair_weights import parse_pair_weights


@dataclass(frozen=True)
class ContrastiveOptions:
    temperature: float = option(0.07, "softmax temperature: initial value when learnt, else fixed", min=1e-3, max=10.0)
    learn_temperature: bool = option(True, "learn the temperature (as a clamped logit scale, CLIP style)")
    max_logit_scale: float = option(100.0, "upper clamp of the learnt logit scale 1/temperature", min=1.0)
    weights: tuple[str, ...] = option((), "per-pair weights, e.g. audio-sheet:1,audio-lyrics:0.5 (others 1)")
    dim: int | None = option(None, "linear projection of every view to this width (needed if widths differ)", min=1)
    anchors: tuple[str, ...] = option(
        (),
        "modalities (e.g. audio,sheet) that only their pairs with each other train: a pair of an anchor and "
        "another modality moves the other one only (its anchor side is detached)",
    )
    freeze_anchors_at: float | None = option(
        None,
        "a two-stage run: until this fraction of the schedule only the pairs among the anchors train, "
        "then those stop and the other modalities are trained onto the frozen anchors (needs 2+ anchors)",
        min=0.0,
        max=1.0,
    )


class Contrastive(Objective):
    """Symmetric InfoNCE over every modality pair, with a learnt temperature."""

    name = "contrastive"
    description = "Symmetric InfoNCE over every modality pair (CLIP/CLAP style), learnt temperature"
    Options = ContrastiveOptions
    n_views = (2, 3)
    default_modalities = ("audio", "sheet")
    default_batch = 128

    def __init__(self, options: ContrastiveOptions | None, dims):
        super().__init__(options, dims)
        o: ContrastiveOptions = self.options
        widths = set(self.dims.values())
        if o.dim is None and len(widths) > 1:
            listed = ", ".join(f"{m} {d}" for m, d in self.dims.items())
            raise OptionError(f"objective 'contrastive': encoder widths differ ({listed}); set -o objective.dim=N")
        if 1 / o.temperature > o.max_logit_scale:
            raise OptionError(
                f"option 'objective.temperature': {o.temperature} gives a logit scale above "
                f"objective.max_logit_scale={o.max_logit_scale}"
            )
        self.projections = (
            nn.ModuleDict({m: nn.Linear(d, o.dim, bias=False) for m, d in self.dims.items()}) if o.dim else None
        )
        init = torch.tensor(math.log(1 / o.temperature))
        if o.learn_temperature:
            self.log_scale = nn.Parameter(init)
        else:
            self.register_buffer("log_scale", init)
        self.pair_weights = parse_pair_weights(o.weights, self.modalities)
        unknown = [m for m in o.anchors if m not in self.modalities]
        if unknown:
            raise OptionError(
                f"option 'objective.anchors': {', '.join(unknown)} not trained here (modalities: {', '.join(self.modalities)})"
            )
        if set(o.anchors) >= set(self.modalities):
            raise OptionError(
                "option 'objective.anchors': not every modality can be an anchor (nothing would align to them)"
            )
        if o.freeze_anchors_at is not None:
            if len(set(o.anchors)) < 2:
                raise OptionError(
                    "option 'objective.freeze_anchors_at': needs two or more anchors "
                    "(e.g. -o objective.anchors=audio,sheet) whose pairs train the first stage"
                )
            for stage, name in ((1, "the first (the pairs among the anchors)"), (2, "the second (the others)")):
                if not any(self._trains(a, b, stage) for a, b in itertools.combinations(self.modalities, 2)):
                    raise OptionError(f"option 'objective.freeze_anchors_at': every pair of {name} stage weighs 0")

    def _trains(self, a: str, b: str, stage: int) -> bool:
        """Whether the pair (a, b) trains in `stage` (see `stage`): a non-zero weight, and in a
        two-stage run the pairs among the anchors in the first stage only, the others in the second."""
        if not self.pair_weights[(a, b)]:
            return False
        among_anchors = a in self.options.anchors and b in self.options.anchors
        return stage == 0 or among_anchors == (stage == 1)

    @property
    def stage(self) -> int:
        """0: every pair trains; 1: the first stage of `freeze_anchors_at` (the pairs among the
        anchors only); 2: the second (the others onto the frozen anchors)."""
        at = self.options.freeze_anchors_at
        if at is None:
            return 0
        return 1 if self.progress < at else 2

    @property
    def shared_dim(self) -> int:
        return self.options.dim or next(iter(self.dims.values()))

    @property
    def logit_scale(self) -> Tensor:
        """1 / temperature, clamped at `max_logit_scale`: a scalar."""
        return self.log_scale.exp().clamp(max=self.options.max_logit_scale)

    def project(self, modality: str, z: Tensor) -> Tensor:
        """`(B, D_m)` -> L2-normalised `(B, shared_dim)` (after the projection, if any)."""
        if self.projections is not None:
            z = self.projections[modality](z)
        return F.normalize(z, dim=-1)

    def loss(self, views: Views) -> dict[str, Tensor]:
        """`{"objective": weighted mean InfoNCE, "nce/a-b": ..., "logit_scale": ...}` on the global batch."""
        views = gather_views(views)
        out: dict[str, Tensor] = {}
        with torch.autocast(device_type=next(iter(views.values())).device.type, enabled=False):
            z = {m: self.project(m, views[m].float()) for m in self.modalities}
            scale = self.logit_scale
            total = scale.new_zeros(())
            weight_sum = 0.0
            anchors, stage = self.options.anchors, self.stage
            for a, b in itertools.combinations(self.modalities, 2):
                if not self._trains(a, b, stage):
                    continue
                w = self.pair_weights[(a, b)]
                za, zb = z[a], z[b]
                if a in anchors and b not in anchors:
                    za = za.detach()
                elif b in anchors and a not in anchors:
                    zb = zb.detach()
                pair = info_nce(za, zb, scale)
                out[f"nce/{a}-{b}"] = pair.detach()
                total = total + w * pair
                weight_sum += w
        out["objective"] = total / weight_sum
        out["logit_scale"] = scale.detach()
        return out
