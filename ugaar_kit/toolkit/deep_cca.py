"""Deep CCA as a piece for plugin authors: train the encoders to maximise the total canonical
correlation of their outputs. The built-in plugin `objective-dcca` registers it (as `dcca`, the
method of Yu et al.); `objective-ugaar` composes it as its audio-sheet ground truth.

Two views: the loss is minus the sum of the (top `k`) singular values of
`T = S11^-1/2 S12 S22^-1/2` with ridged covariances (Andrew et al. 2013; Yu et al. 2017 for
audio and lyrics). Three views: minus the sum over the three pairs (`multiview=sum`), or the
MAX-VAR generalized CCA criterion (`multiview=gcca`): `(sum of the top k eigenvalues of the
block-whitened joint covariance - k) / (M - 1)`, which equals the total correlation for two
views. The math runs in float64 with autocast off (see `ugaar_kit.toolkit.cca`).

A training step whitens the batch covariance mixed with the running one (`batch_weight`, default
0.05; 1 is the batch-only loss): batch-only deep CCA fits the spurious correlations of small
batches (docs/methods.md gives the measurements). `rank_weight > 0` adds the pairwise ranking
loss of Dorfer et al. (2018) in the current CCA space.

A batch must have more rows than the widest view has dimensions (else every correlation is 1
and the gradient is undefined: refused with `BatchTooSmall`). A training step whose covariance
rests on fewer than 4x that many rows (the batch's, or about `batch / batch_weight` with the
running mix) fits inflated correlations: a `UgaarWarning` says so once. The defaults (width 128,
batch 256, `batch_weight` 0.05: about 5,000 rows) do not warn.

Shared space: after training, `fit(views)` computes linear CCA (two views) or multi-view CCA
(three: unit-variance "sumcor" weights for `sum`, MAX-VAR weights for `gcca`) on the whole
training set's encoder outputs, keeping `shared_dim` components, stored as buffers. Before
`fit`, `project` uses the same solution computed from running (exponential moving average)
means and covariances of the training batches, so validation retrieval during training works;
before any training step or `fit` it refuses.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ugaar_kit.errors import OptionError, UgaarError, UgaarWarning
from ugaar_kit.infra.distributed import gather_views
from ugaar_kit.interfaces.objective import Objective, Optimizers, Views
from ugaar_kit.interfaces.options import option
from ugaar_kit.toolkit.cca import (
    FittedProjections,
    Scaling,
    blocks,
    cca_weights,
    correlations_of_blocks,
    gcca_eigenvalues_of_covariance,
    joint_covariance,
    mcca_weights,
    require_rows,
)


@dataclass(frozen=True)
class DCCAOptions:
    r1: float = option(1e-3, "ridge added to the first view's covariance", min=0.0)
    r2: float = option(1e-3, "ridge added to the second view's covariance", min=0.0)
    r3: float = option(1e-3, "ridge added to the third view's covariance (three views)", min=0.0)
    k: int | None = option(None, "use only the top k correlations (default: all; gcca: the narrowest width)", min=1)
    multiview: Literal["sum", "gcca"] = option("sum", "three views: sum over pairs, or MAX-VAR generalized CCA")
    shared_dim: int | None = option(None, "components of the fitted shared space (default: the narrowest width)", min=1)
    momentum: float = option(
        0.05, "weight of a batch in the running statistics project() uses before fit()", min=1e-6, max=1.0
    )
    rank_weight: float = option(
        0.0,
        "weight of a pairwise ranking loss in the current CCA space (Dorfer et al. 2018); 0: pure deep CCA",
        min=0.0,
    )
    margin: float = option(0.5, "margin of the ranking loss (cosine)", min=0.0, max=2.0)
    batch_weight: float = option(
        0.05,
        "weight of the batch covariance in the loss, the rest from the running covariance (1: batch only)",
        min=1e-6,
        max=1.0,
    )


class DeepCCA(Objective):
    """Deep CCA: maximise the total canonical correlation of the views. Subclass it to register
    it under a name (`objective-dcca` does); used unregistered, it is a part of another
    objective, and its messages call it `deep CCA`."""

    Options = DCCAOptions
    n_views = (2, 3)

    running_mean: Tensor
    running_cov: Tensor
    running_steps: Tensor

    @property
    def label(self) -> str:
        """The registered name, or `deep CCA` for an unregistered part of another objective."""
        return str(getattr(type(self), "name", "deep CCA"))

    def __init__(self, options: DCCAOptions | None, dims):
        super().__init__(options, dims)
        o: DCCAOptions = self.options
        widths = list(self.dims.values())
        narrowest = min(widths)
        k = o.shared_dim or narrowest
        if k > narrowest:
            raise OptionError(f"option 'objective.shared_dim': {k} is above the narrowest encoder width {narrowest}")
        self.ridges = [o.r1, o.r2, o.r3][: len(widths)]
        self.projections = FittedProjections(self.dims, k)
        total = sum(widths)
        self.register_buffer("running_mean", torch.zeros(total, dtype=torch.float64))
        self.register_buffer("running_cov", torch.zeros(total, total, dtype=torch.float64))
        self.register_buffer("running_steps", torch.zeros((), dtype=torch.long))
        self._warned = False

    @property
    def shared_dim(self) -> int:
        return self.projections.k

    @property
    def min_batch(self) -> int:
        return max(self.dims.values()) + 1

    def _check_batch(self, n: int, training: bool) -> None:
        """Refuse a batch with too few rows; warn once when a training step's covariance rests on
        fewer than 4x the widest view's rows (validation batches, which `--batch-size` does not
        set, never warn)."""
        widest = max(self.dims.values())
        require_rows(n, widest, f"objective '{self.label}' (widest view {widest})")
        w = self.options.batch_weight
        rows = n if w >= 1.0 else n / w
        if training and rows < 4 * widest and not self._warned:
            self._warned = True
            mixed = "" if w >= 1.0 else f" (batch_weight {w:g}: about {rows:.0f} rows with the running covariance)"
            warnings.warn(
                f"{self.label}: training batches of {n} rows{mixed} are below 4x the view width {widest}: their "
                f"correlations are inflated towards 1 and gradients are noisy; use --batch-size {4 * widest} or more, "
                "a lower batch_weight, or narrower encoders (-o MODALITY.dim=N)",
                UgaarWarning,
                stacklevel=3,
            )

    def batch_loss(self, views: Views, *, training: bool = False) -> dict[str, Tensor]:
        """The loss terms on `views` as given (no gathering across processes); `training`: a
        training step's loss, whose covariance mixes in the running one (`batch_weight`)."""
        zs = [views[m] for m in self.modalities]
        self._check_batch(int(zs[0].shape[0]), training)
        dtype = torch.promote_types(zs[0].dtype, torch.float32)
        k = self.options.k
        out: dict[str, Tensor] = {}
        with torch.autocast(device_type=zs[0].device.type, enabled=False):
            x = torch.cat([z.to(torch.float64) for z in zs], dim=1)
            cov = self.loss_covariance(x) if training else joint_covariance([x])
            dims = list(self.dims.values())
            sl = blocks(dims)
            if len(zs) == 2 or self.options.multiview == "sum":
                total = cov.new_zeros(())
                for (i, a), (j, b) in itertools.combinations(enumerate(self.modalities), 2):
                    si, sj = sl[i], sl[j]
                    rho = correlations_of_blocks(cov[si, si], cov[si, sj], cov[sj, sj], self.ridges[i], self.ridges[j])
                    corr = rho[:k].sum() if k else rho.sum()
                    out[f"corr/{a}-{b}"] = corr.detach()
                    total = total + corr
            else:
                top = k or min(self.dims.values())
                eig = gcca_eigenvalues_of_covariance(cov, dims, self.ridges)
                total = (eig[:top].sum() - top) / (len(zs) - 1)
                out["gcca"] = total.detach()
            loss = -total
            if self.options.rank_weight > 0:
                rank = self.ranking_loss(x, cov.detach())
                out["rank"] = rank.detach()
                loss = loss + self.options.rank_weight * rank
        out["objective"] = loss.to(dtype)
        return out

    def ranking_loss(self, x: Tensor, cov: Tensor) -> Tensor:
        """Pairwise ranking (hinge) loss of the batch in the current CCA space (Dorfer et al.
        2018): the views side by side `x` `(B, sum D)` are projected with the CCA solution of
        `cov` and the batch mean (held constant: the gradient reaches the encoders, not the
        solution); for every pair of views, each item's cosine to its match must beat its
        cosine to every other item of the batch by `margin`. Mean over items and negatives."""
        with torch.no_grad():
            means, weights, _ = self.solve(x.mean(dim=0), cov)
        sl = blocks(list(self.dims.values()))
        cs = [F.normalize((x[:, s] - means[m]) @ weights[m], dim=1) for m, s in zip(self.modalities, sl)]
        margin = self.options.margin
        off = ~torch.eye(int(x.shape[0]), dtype=torch.bool, device=x.device)
        terms = []
        for a, b in itertools.combinations(cs, 2):
            sim = a @ b.T
            pos = sim.diagonal()
            terms.append(F.relu(margin - pos[:, None] + sim)[off].mean())  # a queries b
            terms.append(F.relu(margin - pos[None, :] + sim)[off].mean())  # b queries a
        return torch.stack(terms).mean()

    def loss_covariance(self, x: Tensor) -> Tensor:
        """The joint covariance a training step's loss whitens, from the views side by side `x`
        `(B, sum D)`: the batch's, mixed with the (constant) running covariance when `batch_weight < 1` and
        training has begun. Mixing keeps the gradient of the batch's share and averages the
        estimate over about `1 / momentum` batches, so small batches stop fitting noise."""
        cov = joint_covariance([x])
        w = self.options.batch_weight
        if w < 1.0 and int(self.running_steps) > 0:
            cov = w * cov + (1.0 - w) * self.running_cov.to(cov)
        return cov

    def loss(self, views: Views) -> dict[str, Tensor]:
        """`{"objective": -(total correlation), "corr/a-b" or "gcca": ...}` on the global batch."""
        return self.batch_loss(gather_views(views))

    def training_step(self, views: Views, optimizers: Optimizers) -> dict[str, float]:
        full = gather_views(views)
        out = self.batch_loss(full, training=True)
        optimizers.step("main", out["objective"])
        self.update_running(full)
        return {k: float(v.detach()) for k, v in out.items()}

    @torch.no_grad()
    def update_running(self, views: Views) -> None:
        x = torch.cat([views[m].detach().to(torch.float64) for m in self.modalities], dim=1)
        mean, cov = x.mean(dim=0), joint_covariance([x])
        if int(self.running_steps) == 0:
            self.running_mean.copy_(mean)
            self.running_cov.copy_(cov)
        else:
            m = self.options.momentum
            self.running_mean.lerp_(mean, m)
            self.running_cov.lerp_(cov, m)
        self.running_steps.add_(1)

    def solve(self, mean: Tensor, cov: Tensor) -> tuple[dict[str, Tensor], dict[str, Tensor], Tensor]:
        """Means, weights `(D_m, shared_dim)` and per-component scores from joint statistics."""
        dims = list(self.dims.values())
        k = self.shared_dim
        if len(dims) == 2:
            a, b, rho = cca_weights(cov, dims, k, self.ridges)
            weights, scores = [a, b], rho
        else:
            scaling: Scaling = "sumcor" if self.options.multiview == "sum" else "maxvar"
            weights, scores = mcca_weights(cov, dims, k, self.ridges, scaling)
        sl = blocks(dims)
        means = {m: mean[s] for m, s in zip(self.modalities, sl)}
        return means, dict(zip(self.modalities, weights)), scores

    @torch.no_grad()
    def fit(self, views: Views) -> None:
        """Linear CCA on the whole training set's encoder outputs `{m: (N, D_m)}`, kept as buffers."""
        full = gather_views(views)
        x = torch.cat([full[m].to(torch.float64) for m in self.modalities], dim=1)
        require_rows(int(x.shape[0]), max(self.dims.values()), f"the training set given to {self.label}.fit")
        means, weights, scores = self.solve(x.mean(dim=0), joint_covariance([x]))
        self.projections.set(means, weights, scores)

    @property
    def canonical_correlations(self) -> Tensor:
        """The fitted canonical correlations (two views) or GCCA eigenvalues (three), `(shared_dim,)`."""
        return self.projections.correlations

    def project(self, modality: str, z: Tensor) -> Tensor:
        """`(B, D_m)` -> `(B, shared_dim)` canonical variates (fitted, else running statistics)."""
        if self.projections.is_fitted:
            return self.projections(modality, z)
        if int(self.running_steps) == 0:
            raise UgaarError(f"objective '{self.label}': project() needs fit() or at least one training step")
        means, weights, _ = self.solve(self.running_mean, self.running_cov)
        return ((z.to(torch.float64) - means[modality]) @ weights[modality]).to(z.dtype)
