"""ugaar_kit.toolkit.cca against NumPy/SciPy references."""

from __future__ import annotations

import io

import numpy as np
import pytest
import scipy.linalg
import torch

from ugaar_kit.errors import UgaarError
from ugaar_kit.toolkit.cca import (
    BatchTooSmall,
    FittedProjections,
    canonical_correlations,
    cca_weights,
    cholesky_whitener,
    fit_pca,
    gcca_eigenvalues,
    inv_sqrt,
    joint_covariance,
    mcca_weights,
    total_correlation,
)


def correlated(n, dims, latent=4, noise=1.0, seed=0):
    """Views that are noisy linear maps of one shared latent `(n, latent)`."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, latent))
    return [z @ rng.standard_normal((latent, d)) + noise * rng.standard_normal((n, d)) for d in dims]


def reference_correlations(x, y, r1=0.0, r2=0.0):
    """SciPy: singular values of S11^-1/2 S12 S22^-1/2 with ridged covariances."""
    s = np.cov(np.hstack([x, y]), rowvar=False)
    d1 = x.shape[1]
    s11 = s[:d1, :d1] + r1 * np.eye(d1)
    s22 = s[d1:, d1:] + r2 * np.eye(s.shape[0] - d1)
    w1 = np.real(scipy.linalg.fractional_matrix_power(s11, -0.5))
    w2 = np.real(scipy.linalg.fractional_matrix_power(s22, -0.5))
    return scipy.linalg.svdvals(w1 @ s[:d1, d1:] @ w2)


@pytest.mark.parametrize("ridge", [(0.0, 0.0), (0.1, 0.3)])
def test_canonical_correlations_match_scipy(ridge):
    x, y = correlated(200, (6, 9), seed=1)
    got = canonical_correlations(torch.from_numpy(x), torch.from_numpy(y), *ridge).numpy()
    ref = reference_correlations(x, y, *ridge)
    np.testing.assert_allclose(got, ref, atol=1e-10)
    assert got[0] > 0.8 and got[-1] < 0.5  # 4 shared directions, 2 noise
    top3 = total_correlation(torch.from_numpy(x), torch.from_numpy(y), *ridge, k=3)
    assert float(top3) == pytest.approx(ref[:3].sum(), abs=1e-10)


def test_cca_weights_give_canonical_variates():
    x, y = correlated(500, (7, 5), seed=2)
    cov = joint_covariance([torch.from_numpy(x), torch.from_numpy(y)])
    a, b, rho = cca_weights(cov, (7, 5), 5)
    np.testing.assert_allclose(rho.numpy(), reference_correlations(x, y), atol=1e-10)
    u = (x - x.mean(0)) @ a.numpy()
    v = (y - y.mean(0)) @ b.numpy()
    c = np.cov(np.hstack([u, v]), rowvar=False)
    np.testing.assert_allclose(c[:5, :5], np.eye(5), atol=1e-9)
    np.testing.assert_allclose(c[5:, 5:], np.eye(5), atol=1e-9)
    np.testing.assert_allclose(c[:5, 5:], np.diag(rho.numpy()), atol=1e-9)


def test_two_view_gcca_eigenvalues_are_one_plus_minus_rho():
    x, y = correlated(300, (5, 5), seed=3)
    eig = gcca_eigenvalues([torch.from_numpy(x), torch.from_numpy(y)], [0.0, 0.0]).numpy()
    rho = reference_correlations(x, y)
    np.testing.assert_allclose(eig[:5], 1 + rho, atol=1e-9)
    np.testing.assert_allclose(eig[5:], (1 - rho)[::-1], atol=1e-9)


def test_maxvar_matches_brute_force_shared_space():
    """MAX-VAR: G = top eigenvectors of sum_j P_j P_j^T (P_j an orthonormal basis of view j's
    centred columns); view j's weights regress sqrt(N-1) G onto view j."""
    n, dims, k = 120, (4, 6, 5), 3
    views = correlated(n, dims, latent=3, noise=0.7, seed=4)
    centred = [v - v.mean(0) for v in views]
    m = sum(scipy.linalg.orth(c) @ scipy.linalg.orth(c).T for c in centred)
    vals, vecs = np.linalg.eigh(m)
    g = vecs[:, ::-1][:, :k] * np.sqrt(n - 1)
    cov = joint_covariance([torch.from_numpy(v) for v in views])
    weights, eig = mcca_weights(cov, dims, k, [0.0] * 3, "maxvar")
    np.testing.assert_allclose(eig.numpy(), vals[::-1][:k], atol=1e-9)
    for c, w in zip(centred, weights):
        ref = np.linalg.lstsq(c, g, rcond=None)[0]
        got = w.numpy()
        signs = np.sign(np.sum(got * ref, axis=0))
        np.testing.assert_allclose(got * signs, ref, atol=1e-8)


def test_sumcor_gives_unit_variance_and_equals_cca_for_two_views():
    x, y = correlated(400, (6, 4), seed=5)
    cov = joint_covariance([torch.from_numpy(x), torch.from_numpy(y)])
    (wa, wb), eig = mcca_weights(cov, (6, 4), 4, [0.0, 0.0], "sumcor")
    a, b, rho = cca_weights(cov, (6, 4), 4)
    np.testing.assert_allclose(eig.numpy(), 1 + rho.numpy(), atol=1e-9)
    for got, ref in ((wa, a), (wb, b)):
        signs = torch.sign((got * ref).sum(0))
        torch.testing.assert_close(got * signs, ref, atol=1e-8, rtol=0)
    views = correlated(400, (6, 4, 5), seed=6)
    cov3 = joint_covariance([torch.from_numpy(v) for v in views])
    weights, _ = mcca_weights(cov3, (6, 4, 5), 3, [0.0] * 3, "sumcor")
    for v, w in zip(views, weights):
        np.testing.assert_allclose(np.var((v - v.mean(0)) @ w.numpy(), axis=0, ddof=1), 1.0, atol=1e-9)


def test_pca_exact_and_randomized_agree_with_numpy():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((300, 5)) @ rng.standard_normal((5, 40)) + 0.01 * rng.standard_normal((300, 40))
    mean, comps, var = fit_pca(torch.from_numpy(x), 5)
    _, s, vt = np.linalg.svd(x - x.mean(0), full_matrices=False)
    np.testing.assert_allclose(var.numpy(), s[:5] ** 2 / 299, rtol=1e-10)
    np.testing.assert_allclose(np.abs(comps.numpy().T @ vt[:5].T), np.eye(5), atol=1e-8)
    _, comps_r, var_r = fit_pca(torch.from_numpy(x), 5, exact_below=10)
    np.testing.assert_allclose(var_r.numpy(), var.numpy(), rtol=1e-6)
    np.testing.assert_allclose(np.abs(comps_r.numpy().T @ comps.numpy()), np.eye(5), atol=1e-6)
    again = fit_pca(torch.from_numpy(x), 5, exact_below=10)[1]
    assert torch.equal(again, comps_r)  # seeded


def test_degenerate_inputs():
    with pytest.raises(BatchTooSmall, match="got 8 rows for dimension 8") as info:
        canonical_correlations(torch.randn(8, 8, dtype=torch.float64), torch.randn(8, 3, dtype=torch.float64))
    assert isinstance(info.value, ValueError) and isinstance(info.value, UgaarError)
    singular = torch.zeros(3, 3, dtype=torch.float64)
    singular[0, 0] = 1.0
    assert torch.isfinite(inv_sqrt(singular)).all() and float(inv_sqrt(singular)[0, 0]) == 1.0
    with pytest.raises(UgaarError, match="not positive definite"):
        cholesky_whitener(singular)


def test_fitted_projections_round_trip():
    proj = FittedProjections({"audio": 3, "sheet": 2}, 2)
    assert not proj.is_fitted
    proj.set(
        {"audio": torch.ones(3), "sheet": torch.zeros(2)},
        {"audio": torch.randn(3, 2), "sheet": torch.randn(2, 2)},
        torch.tensor([0.9, 0.5]),
    )
    buf = io.BytesIO()
    torch.save(proj.state_dict(), buf)
    buf.seek(0)
    twin = FittedProjections({"audio": 3, "sheet": 2}, 2)
    twin.load_state_dict(torch.load(buf, weights_only=True))
    z = torch.randn(4, 3)
    assert twin.is_fitted and torch.equal(twin("audio", z), proj("audio", z))
    assert twin("audio", z).dtype == torch.float32
