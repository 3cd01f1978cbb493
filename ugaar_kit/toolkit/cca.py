"""Linear CCA and multi-view CCA: the math shared by the CCA-family objectives.

Conventions: data are `(N, D)` rows, one row per item; covariances divide by N - 1; a ridge
`r` adds `r * I` to a view's own covariance (Andrew et al. 2013). Everything runs in the dtype
it is given: pass float64 (the losses below are ill-conditioned in float32).

Two kinds of functions live here:

- differentiable losses for deep CCA: `canonical_correlations` (two views) and
  `gcca_eigenvalues` (any number of views, MAX-VAR). Both whiten with Cholesky factors (whose
  gradient is always defined when the ridge makes the covariance positive definite) and take
  only singular values or eigenvalues, whose gradients `U diag(g) V^T` stay finite even when
  values repeat: no eigenvector gradients, no square roots of numbers near zero.
- closed-form fits for projections (no gradients): `cca_weights`, `mcca_weights`, `fit_pca`,
  all from covariance blocks, so a fit on a whole training set and one on running statistics
  share the code; `FittedProjections` keeps a fit as buffers of a module.

Multi-view CCA: with `B` the joint covariance whitened block by block (identity blocks on the
diagonal, `S_ii^-1/2 S_ij S_jj^-1/2` off it), MAX-VAR generalized CCA (Kettenring 1971; the
shared space `G` that every view regresses onto best) and the eigenvalue relaxation of SUMCOR
(the sum of pairwise correlations, "multiset CCA") share the top eigenvectors of `B`; they
differ in how each view's weights are scaled (`mcca_weights(scaling=...)`). With two views the
eigenvalues are `1 +- rho_i`, the canonical correlations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from ugaar_kit.errors import BatchTooSmall as BatchTooSmall  # its home is ugaar_kit.errors (re-exported)
from ugaar_kit.errors import UgaarError

Scaling = Literal["maxvar", "sumcor"]


def require_rows(n: int, dim: int, what: str = "the views") -> None:
    """Raise `BatchTooSmall` unless `n` rows can give a full-rank covariance of width `dim`."""
    if n <= dim:
        raise BatchTooSmall(
            f"CCA on {what} needs more rows than dimensions: got {n} rows for dimension {dim} "
            f"(use at least {4 * dim} rows, 4x the dimension, for stable gradients)"
        )


def covariance(x: Tensor, y: Tensor | None = None) -> Tensor:
    """Sample (cross-)covariance of `x` `(N, Dx)` and `y` `(N, Dy)` (default `x`): `(Dx, Dy)`."""
    xc = x - x.mean(dim=0, keepdim=True)
    yc = xc if y is None else y - y.mean(dim=0, keepdim=True)
    return xc.T @ yc / max(int(x.shape[0]) - 1, 1)


def joint_covariance(views: Sequence[Tensor]) -> Tensor:
    """Covariance of the views side by side: `(sum D_m, sum D_m)`, blocks in view order."""
    return covariance(torch.cat(list(views), dim=1))


def blocks(dims: Sequence[int]) -> list[slice]:
    """The slices of each view's block in a joint matrix of views of widths `dims`."""
    out, start = [], 0
    for d in dims:
        out.append(slice(start, start + d))
        start += d
    return out


def add_ridge(cov: Tensor, dims: Sequence[int], ridges: Sequence[float]) -> Tensor:
    """A copy of joint covariance `cov` with `ridges[m] * I` added to view m's diagonal block."""
    diag = torch.cat([torch.full((d,), float(r), dtype=cov.dtype, device=cov.device) for d, r in zip(dims, ridges)])
    return cov + torch.diag(diag)


def inv_sqrt(s: Tensor, rtol: float = 1e-10) -> Tensor:
    """Symmetric pseudo-inverse square root of a PSD matrix `(D, D)`; eigenvalues below
    `rtol * max` count as zero (their directions are dropped, not blown up). No gradients."""
    vals, vecs = torch.linalg.eigh(s)
    keep = vals > rtol * vals.abs().max().clamp_min(torch.finfo(s.dtype).tiny)
    inv = torch.where(keep, vals.clamp_min(torch.finfo(s.dtype).tiny).rsqrt(), torch.zeros_like(vals))
    return (vecs * inv) @ vecs.T


def cholesky_whitener(s: Tensor, what: str = "a view") -> Tensor:
    """`L^-1` for `s = L L^T` `(D, D)`: `L^-1 s L^-T = I`. Differentiable; raises `UgaarError`
    when `s` is not positive definite (a ridge > 0 always makes it so)."""
    chol, info = torch.linalg.cholesky_ex(s)
    if int(info) != 0:
        raise UgaarError(f"the covariance of {what} is not positive definite: use a ridge > 0")
    eye = torch.eye(s.shape[0], dtype=s.dtype, device=s.device)
    return torch.linalg.solve_triangular(chol, eye, upper=False)


def canonical_correlations(x: Tensor, y: Tensor, r1: float = 0.0, r2: float = 0.0) -> Tensor:
    """The canonical correlations of `x` `(N, D1)` and `y` `(N, D2)`, descending `(min(D1, D2),)`:
    the singular values of `T = S11^-1/2 S12 S22^-1/2` with ridged `S11 + r1 I`, `S22 + r2 I`.

    Differentiable. Cholesky whitening gives a `T` that differs from the symmetric one by
    rotations only, so the singular values are the same."""
    n = int(x.shape[0])
    require_rows(n, max(int(x.shape[1]), int(y.shape[1])))
    s = joint_covariance([x, y])
    d1 = int(x.shape[1])
    return correlations_of_blocks(s[:d1, :d1], s[:d1, d1:], s[d1:, d1:], r1, r2)


def correlations_of_blocks(s11: Tensor, s12: Tensor, s22: Tensor, r1: float = 0.0, r2: float = 0.0) -> Tensor:
    """`canonical_correlations` from covariance blocks: the views' own `s11` `(D1, D1)`, `s22`
    `(D2, D2)` and their cross-covariance `s12` `(D1, D2)`. Differentiable."""
    eye1 = torch.eye(s11.shape[0], dtype=s11.dtype, device=s11.device)
    eye2 = torch.eye(s22.shape[0], dtype=s22.dtype, device=s22.device)
    w1 = cholesky_whitener(s11 + r1 * eye1, "the first view")
    w2 = cholesky_whitener(s22 + r2 * eye2, "the second view")
    return torch.linalg.svdvals(w1 @ s12 @ w2.T)


def total_correlation(x: Tensor, y: Tensor, r1: float = 0.0, r2: float = 0.0, k: int | None = None) -> Tensor:
    """Sum of the top `k` (default all) canonical correlations of `x` and `y`: a scalar."""
    rho = canonical_correlations(x, y, r1, r2)
    return rho[:k].sum() if k else rho.sum()


def whitened_blocks(cov: Tensor, dims: Sequence[int], ridges: Sequence[float], *, differentiable: bool) -> Tensor:
    """The joint covariance whitened block by block: `B_ij = W_i S_ij W_j^T`, `B_ii = I`,
    `(sum D, sum D)`. `W_i` is the Cholesky whitener when `differentiable`, else the symmetric
    pseudo-inverse square root (robust to singular covariances; for closed-form fits)."""
    sl = blocks(dims)
    whiteners = []
    for m, (s, r) in enumerate(zip(sl, ridges)):
        eye = torch.eye(s.stop - s.start, dtype=cov.dtype, device=cov.device)
        own = cov[s, s] + r * eye
        whiteners.append(cholesky_whitener(own, f"view {m}") if differentiable else inv_sqrt(own))
    rows = []
    for i, si in enumerate(sl):
        row = []
        for j, sj in enumerate(sl):
            if i == j:
                row.append(torch.eye(si.stop - si.start, dtype=cov.dtype, device=cov.device))
            else:
                row.append(whiteners[i] @ cov[si, sj] @ whiteners[j].T)
        rows.append(torch.cat(row, dim=1))
    return torch.cat(rows, dim=0)


def gcca_eigenvalues(views: Sequence[Tensor], ridges: Sequence[float]) -> Tensor:
    """Eigenvalues of the block-whitened joint covariance of `views` (each `(N, D_m)`),
    descending `(sum D_m,)`. The top ones measure how well one shared space explains every
    view (MAX-VAR GCCA); they lie in `[0, M]` for M views, `1 + rho_i` for two. Differentiable."""
    n = int(views[0].shape[0])
    dims = [int(v.shape[1]) for v in views]
    require_rows(n, max(dims))
    return gcca_eigenvalues_of_covariance(joint_covariance(views), dims, ridges)


def gcca_eigenvalues_of_covariance(cov: Tensor, dims: Sequence[int], ridges: Sequence[float]) -> Tensor:
    """`gcca_eigenvalues` from the joint covariance of views of widths `dims`. Differentiable."""
    b = whitened_blocks(cov, dims, ridges, differentiable=True)
    return torch.linalg.eigvalsh(b).flip(0)


def cca_weights(
    cov: Tensor, dims: Sequence[int], k: int, ridges: Sequence[float] = (0.0, 0.0)
) -> tuple[Tensor, Tensor, Tensor]:
    """Two-view CCA from a joint covariance `(D1 + D2, D1 + D2)`: weights `A` `(D1, k)`, `B`
    `(D2, k)` and correlations `(k,)`, descending. The canonical variates `(x - mean) @ A` and
    `(y - mean) @ B` have (near) unit variance and cross-covariance `diag(rho)`. No gradients."""
    d1, d2 = dims
    if k > min(d1, d2):
        raise ValueError(f"CCA gives at most {min(d1, d2)} components for widths {d1} and {d2}, asked for {k}")
    cov = add_ridge(cov, dims, ridges)
    w1 = inv_sqrt(cov[:d1, :d1])
    w2 = inv_sqrt(cov[d1:, d1:])
    u, rho, vh = torch.linalg.svd(w1 @ cov[:d1, d1:] @ w2)
    return w1 @ u[:, :k], w2 @ vh[:k].T, rho[:k]


def mcca_weights(
    cov: Tensor, dims: Sequence[int], k: int, ridges: Sequence[float], scaling: Scaling = "maxvar"
) -> tuple[list[Tensor], Tensor]:
    """Multi-view CCA from a joint covariance: one weight matrix `(D_m, k)` per view and the
    top `k` eigenvalues of the block-whitened covariance. No gradients.

    `scaling="maxvar"`: view m's weights regress its whitened data onto the shared variates
    `G` (unit variance), so every view's projection estimates the same `G` (MAX-VAR GCCA).
    `scaling="sumcor"`: each view's canonical variates get unit variance (multiset CCA, the
    eigenvalue relaxation of maximising the sum of pairwise correlations)."""
    if k > sum(dims):
        raise ValueError(f"multi-view CCA gives at most {sum(dims)} components, asked for {k}")
    cov = add_ridge(cov, dims, ridges)
    sl = blocks(dims)
    whiteners = [inv_sqrt(cov[s, s]) for s in sl]
    b = whitened_blocks(cov, dims, [0.0] * len(dims), differentiable=False)
    vals, vecs = torch.linalg.eigh(b)
    vals, vecs = vals.flip(0)[:k], vecs.flip(1)[:, :k]
    weights = []
    for w, s in zip(whiteners, sl):
        part = vecs[s]
        if scaling == "maxvar":
            part = part * vals.clamp_min(0).sqrt()
        elif scaling == "sumcor":
            part = part / part.norm(dim=0, keepdim=True).clamp_min(torch.finfo(part.dtype).eps)
        else:
            raise ValueError(f"unknown scaling {scaling!r} (known: maxvar, sumcor)")
        weights.append(w @ part)
    return weights, vals


def fit_pca(x: Tensor, k: int, *, exact_below: int = 1024, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """PCA of `x` `(N, D)`: mean `(D,)`, orthonormal components `(D, k)` and their variances
    `(k,)`, descending. Exact SVD when `min(N, D) <= exact_below`, else randomized SVD (Halko
    et al., via `torch.svd_lowrank`, seeded so the result is deterministic)."""
    n, d = int(x.shape[0]), int(x.shape[1])
    if k > min(n - 1, d):
        raise ValueError(f"PCA of {n} rows of width {d} gives at most {min(n - 1, d)} components, asked for {k}")
    mean = x.mean(dim=0)
    xc = x - mean
    if min(n, d) <= exact_below:
        _, s, vh = torch.linalg.svd(xc, full_matrices=False)
        comps = vh[:k].T
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            _, s, v = torch.svd_lowrank(xc, q=min(k + 16, min(n, d)), niter=6)
        comps = v[:, :k]
    return mean, comps, s[:k].square() / max(n - 1, 1)


class FittedProjections(nn.Module):
    """Per-modality affine maps `(z - mean_m) @ weight_m` `(B, D_m) -> (B, k)`, kept as float64
    buffers so they travel in `state_dict` (and load with `weights_only=True`). Zeros and
    `fitted == False` until `set` is called."""

    correlations: Tensor
    fitted: Tensor

    def __init__(self, dims: Mapping[str, int], k: int) -> None:
        super().__init__()
        self.dims = dict(dims)
        self.k = k
        for m, d in self.dims.items():
            self.register_buffer(f"mean_{m}", torch.zeros(d, dtype=torch.float64))
            self.register_buffer(f"weight_{m}", torch.zeros(d, k, dtype=torch.float64))
        self.register_buffer("correlations", torch.zeros(k, dtype=torch.float64))
        self.register_buffer("fitted", torch.tensor(False))

    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted)

    def set(self, means: Mapping[str, Tensor], weights: Mapping[str, Tensor], correlations: Tensor) -> None:
        """Store fitted means `(D_m,)`, weights `(D_m, k)` and per-component scores `(k,)`."""
        for m in self.dims:
            getattr(self, f"mean_{m}").copy_(means[m])
            getattr(self, f"weight_{m}").copy_(weights[m])
        self.correlations.copy_(correlations)
        self.fitted.fill_(True)

    def forward(self, modality: str, z: Tensor) -> Tensor:
        """`z` `(B, D_m)` -> `(B, k)` in `z`'s dtype; differentiable in `z`."""
        mean = getattr(self, f"mean_{modality}")
        weight = getattr(self, f"weight_{modality}")
        return ((z.to(torch.float64) - mean) @ weight).to(z.dtype)
