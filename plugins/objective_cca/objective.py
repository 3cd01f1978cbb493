"""Linear CCA on fixed features: PCA of each view, then CCA (two views) or multi-view CCA.

Nothing is trained (`trainable = False`): the trainer goes straight to `fit(views)`, which on
the whole training set's features `{m: (N, D_m)}` computes

1. PCA of each view to `pca_dims` components (randomized SVD for large inputs), then
2. two views: CCA to `dim` components; three views: MAX-VAR generalized CCA
   (`multiview=gcca`, each view's projection estimates one shared variate) or the multiset
   CCA relaxation of the sum of pairwise correlations (`multiview=sum`, unit-variance variates),
   with a ridge of `ridge` times each view's mean PCA variance,

and stores PCA and CCA folded into one affine map per view (buffers). `project` applies it.

`loss` is minus the sum over pairs of the per-component correlations of the projected views
(the fitted maps; before `fit`, maps fitted on the batch itself), so on held-out data it is
the canonical correlation the fit generalises to.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from ugaar_kit.errors import UgaarError
from ugaar_kit.infra.distributed import gather_views
from ugaar_kit.interfaces.objective import Objective, Optimizers, Views
from ugaar_kit.interfaces.options import option
from ugaar_kit.toolkit.cca import FittedProjections, Scaling, cca_weights, fit_pca, joint_covariance, mcca_weights


@dataclass(frozen=True)
class CCAOptions:
    dim: int = option(32, "canonical components kept (at most the narrowest PCA width)", min=1)
    pca_dims: int | None = option(128, "principal components kept per view before CCA (none: no PCA)", min=1)
    ridge: float = option(1e-3, "ridge, as a fraction of each view's mean variance after PCA", min=0.0)
    multiview: Literal["gcca", "sum"] = option("gcca", "three views: MAX-VAR GCCA, or multiset CCA (sum of pairs)")


def pearson(a: Tensor, b: Tensor) -> Tensor:
    """Per-column correlation of `a` and `b` `(N, k)`: `(k,)`."""
    a = a - a.mean(dim=0)
    b = b - b.mean(dim=0)
    denom = (a.norm(dim=0) * b.norm(dim=0)).clamp_min(torch.finfo(a.dtype).tiny)
    return (a * b).sum(dim=0) / denom


class LinearCCA(Objective):
    """Linear CCA (or GCCA for three views) after PCA, fitted in closed form on fixed features."""

    name = "cca"
    description = "Linear CCA / MAX-VAR GCCA after PCA on fixed features (closed form, nothing to train)"
    Options = CCAOptions
    n_views = (2, 3)
    default_modalities = ("audio", "sheet")
    trainable = False

    def __init__(self, options: CCAOptions | None, dims):
        super().__init__(options, dims)
        o: CCAOptions = self.options
        self.pca_widths = {m: min(d, o.pca_dims) if o.pca_dims else d for m, d in self.dims.items()}
        self.projections = FittedProjections(self.dims, min(o.dim, *self.pca_widths.values()))

    @property
    def shared_dim(self) -> int:
        return self.projections.k

    @property
    def min_batch(self) -> int:
        return self.shared_dim + 2

    @torch.no_grad()
    def _solve(self, views: Views) -> tuple[dict[str, Tensor], dict[str, Tensor], Tensor]:
        """Means `(D_m,)`, PCA-and-CCA weights `(D_m, shared_dim)` and per-component scores."""
        k = self.shared_dim
        n = int(next(iter(views.values())).shape[0])
        if n - 1 < k:
            raise UgaarError(f"objective 'cca': {n} rows cannot give {k} canonical components; use at least {k + 2}")
        means, comps, reduced, ridges = {}, {}, [], []
        for m in self.modalities:
            x = views[m].detach().to(torch.float64)
            p = min(self.pca_widths[m], n - 1)
            means[m], comps[m], var = fit_pca(x, p)
            reduced.append((x - means[m]) @ comps[m])
            ridges.append(self.options.ridge * float(var.mean()))
        cov = joint_covariance(reduced)
        widths = [int(r.shape[1]) for r in reduced]
        if len(widths) == 2:
            a, b, scores = cca_weights(cov, widths, k, ridges)
            weights = [a, b]
        else:
            scaling: Scaling = "maxvar" if self.options.multiview == "gcca" else "sumcor"
            weights, scores = mcca_weights(cov, widths, k, ridges, scaling)
        folded = {m: comps[m] @ w for m, w in zip(self.modalities, weights)}
        return means, folded, scores

    @torch.no_grad()
    def fit(self, views: Views) -> None:
        """PCA then CCA on the whole training set's features `{m: (N, D_m)}`, kept as buffers."""
        self.projections.set(*self._solve(gather_views(views)))

    def project(self, modality: str, z: Tensor) -> Tensor:
        """`(B, D_m)` -> `(B, shared_dim)` canonical variates."""
        if not self.projections.is_fitted:
            raise UgaarError("objective 'cca': project() before fit(); fit it on the training set's features")
        return self.projections(modality, z)

    def loss(self, views: Views) -> dict[str, Tensor]:
        """`{"objective": -(sum over pairs of per-component correlations), "corr/a-b": ...}`."""
        views = gather_views(views)
        if self.projections.is_fitted:
            z = {m: self.projections(m, views[m].to(torch.float64)) for m in self.modalities}
        else:
            means, weights, _ = self._solve(views)
            z = {m: (views[m].to(torch.float64) - means[m]) @ weights[m] for m in self.modalities}
        out: dict[str, Tensor] = {}
        total = next(iter(z.values())).new_zeros(())
        for a, b in itertools.combinations(self.modalities, 2):
            corr = pearson(z[a], z[b]).sum()
            out[f"corr/{a}-{b}"] = corr.detach()
            total = total + corr
        out["objective"] = -total.to(torch.float32)
        return out

    def training_step(self, views: Views, optimizers: Optimizers) -> dict[str, float]:
        """Nothing to train: the batch's loss terms, no optimizer step."""
        return self.validation_loss(views)
