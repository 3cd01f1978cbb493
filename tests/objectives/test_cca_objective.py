"""The `cca` objective: closed-form PCA + CCA/GCCA on fixed features."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from ugaar_kit_plugins.objective_cca.objective import LinearCCA

from ugaar_kit.errors import UgaarError
from ugaar_kit.retrieval.metrics import retrieval_metrics
from ugaar_kit.testing import check_objective


def raw_features(n, dims, latent=5, noise=1.0, seed=0):
    """High-dimensional 'raw' views: each a noisy linear map of one shared latent."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, latent, generator=g)
    return [z @ torch.randn(latent, d, generator=g) + noise * torch.randn(n, d, generator=g) for d in dims]


def reference_fit(views, pca_dims, k, ridge):
    """NumPy/SciPy: PCA per view, ridge relative to the mean PCA variance, CCA correlations."""
    reduced, ridges = [], []
    for x in views:
        xc = x - x.mean(0)
        _, s, vt = np.linalg.svd(xc, full_matrices=False)
        reduced.append(xc @ vt[:pca_dims].T)
        ridges.append(ridge * np.mean(s[:pca_dims] ** 2 / (len(x) - 1)))
    s = np.cov(np.hstack(reduced), rowvar=False)
    p = pca_dims
    w1 = np.real(scipy.linalg.fractional_matrix_power(s[:p, :p] + ridges[0] * np.eye(p), -0.5))
    w2 = np.real(scipy.linalg.fractional_matrix_power(s[p:, p:] + ridges[1] * np.eye(p), -0.5))
    return scipy.linalg.svdvals(w1 @ s[:p, p:] @ w2)[:k]


def test_fit_matches_reference_and_retrieves_held_out_items():
    views = raw_features(1800, (200, 150), seed=1)
    train = {"audio": views[0][:1500], "sheet": views[1][:1500]}
    test = {"audio": views[0][1500:], "sheet": views[1][1500:]}
    obj = LinearCCA.from_options({"pca_dims": 32, "dim": 8, "ridge": 0.01}, {"audio": 200, "sheet": 150})
    assert not obj.trainable and obj.shared_dim == 8
    with pytest.raises(UgaarError, match="before fit"):
        obj.project("audio", test["audio"])
    obj.fit(train)
    ref = reference_fit([v.double().numpy() for v in train.values()], 32, 8, 0.01)
    np.testing.assert_allclose(obj.projections.correlations.numpy(), ref, atol=1e-8)
    assert ref[:5].min() > 0.9 and ref[5:].max() < 0.3  # five shared directions
    projected = {m: obj.project(m, x) for m, x in test.items()}
    metrics = retrieval_metrics(projected)
    for row in metrics.values():
        assert row["MRR"] > 20 * row["chance_MRR"], row
    # the loss on held-out data is minus the sum of the held-out per-component correlations
    held = np.corrcoef(projected["audio"].T.numpy(), projected["sheet"].T.numpy())[:8, 8:]
    assert float(obj.validation_loss(test)["objective"]) == pytest.approx(-np.trace(held), abs=1e-4)


@pytest.mark.parametrize("multiview", ["gcca", "sum"])
def test_three_views_share_one_space(multiview):
    views = raw_features(1300, (60, 50, 40), seed=2)
    names = ("audio", "sheet", "lyrics")
    obj = LinearCCA.from_options({"pca_dims": 20, "dim": 5, "multiview": multiview}, dict(zip(names, (60, 50, 40))))
    obj.fit({m: v[:1000] for m, v in zip(names, views)})
    metrics = retrieval_metrics({m: obj.project(m, v[1000:]) for m, v in zip(names, views)})
    assert len(metrics) == 6
    for row in metrics.values():
        assert row["MRR"] > 20 * row["chance_MRR"], row


def test_too_few_rows_is_refused():
    obj = LinearCCA.from_options({"dim": 8}, {"audio": 30, "sheet": 30})
    with pytest.raises(UgaarError, match="5 rows cannot give 8 canonical components"):
        obj.fit({"audio": torch.randn(5, 30), "sheet": torch.randn(5, 30)})


@pytest.mark.parametrize(
    ("dims", "values"),
    [
        ({"audio": 8, "sheet": 8}, {}),
        ({"audio": 30, "sheet": 20}, {"pca_dims": 6, "dim": 4, "ridge": 0.1}),
        ({"audio": 8, "sheet": 6, "lyrics": 7}, {"multiview": "gcca", "pca_dims": "none"}),
        ({"audio": 8, "sheet": 6, "lyrics": 7}, {"multiview": "sum", "ridge": 0}),
    ],
)
def test_conforms(dims, values):
    obj = check_objective(LinearCCA, dims, values)
    assert obj.shared_dim <= min(dims.values())
