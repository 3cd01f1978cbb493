"""The `dcca` objective: loss against SciPy, gradient health, batch limits, fit/project."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn
from ugaar_kit_plugins.objective_dcca.objective import DeepCCA

from ugaar_kit.errors import OptionError, UgaarError, UgaarWarning
from ugaar_kit.interfaces.objective import Optimizers
from ugaar_kit.retrieval.metrics import retrieval_metrics
from ugaar_kit.testing import check_objective
from ugaar_kit.toolkit.cca import BatchTooSmall


def whiten(s):
    return np.real(scipy.linalg.fractional_matrix_power(s, -0.5))


def ref_total_correlation(x, y, r1, r2, k=None):
    s = np.cov(np.hstack([x, y]), rowvar=False)
    d1 = x.shape[1]
    t = whiten(s[:d1, :d1] + r1 * np.eye(d1)) @ s[:d1, d1:] @ whiten(s[d1:, d1:] + r2 * np.eye(y.shape[1]))
    return scipy.linalg.svdvals(t)[:k].sum()


def ref_gcca(views, ridges, k):
    s = np.cov(np.hstack(views), rowvar=False)
    edges = np.cumsum([0] + [v.shape[1] for v in views])
    ws = [whiten(s[a:b, a:b] + r * np.eye(b - a)) for a, b, r in zip(edges[:-1], edges[1:], ridges)]
    w = scipy.linalg.block_diag(*ws)
    b = w @ s @ w.T
    for a, e in zip(edges[:-1], edges[1:]):
        b[a:e, a:e] = np.eye(e - a)
    eig = np.linalg.eigvalsh(b)[::-1]
    return (eig[:k].sum() - k) / (len(views) - 1)


def latent_views(n, dims, latent=4, noise=0.3, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, latent, generator=g)
    return [z @ torch.randn(latent, d, generator=g) + noise * torch.randn(n, d, generator=g) for d in dims]


@pytest.mark.parametrize("k", [None, 3])
def test_loss_equals_scipy_total_correlation(k):
    x, y = (v.float() for v in latent_views(300, (8, 8), noise=1.0, seed=1))
    values = {"r1": 0.01, "r2": 0.05} | ({"k": k} if k else {})
    obj = DeepCCA.from_options(values, {"audio": 8, "lyrics": 8})
    out = obj.loss({"audio": x, "lyrics": y})
    ref = ref_total_correlation(x.double().numpy(), y.double().numpy(), 0.01, 0.05, k)
    assert float(out["objective"]) == pytest.approx(-ref, abs=1e-5)
    assert float(out["corr/audio-lyrics"]) == pytest.approx(ref, abs=1e-5)


def ref_correlation_of_covariance(s, d1, r1, r2):
    t = whiten(s[:d1, :d1] + r1 * np.eye(d1)) @ s[:d1, d1:] @ whiten(s[d1:, d1:] + r2 * np.eye(s.shape[0] - d1))
    return scipy.linalg.svdvals(t).sum()


def test_training_loss_mixes_the_running_covariance_and_validation_does_not():
    dims = {"audio": 5, "lyrics": 4}
    obj = DeepCCA.from_options({"batch_weight": 0.3}, dims)
    earlier = dict(zip(dims, latent_views(200, dims.values(), noise=1.0, seed=11)))
    batch = dict(zip(dims, latent_views(64, dims.values(), noise=1.0, seed=12)))
    pure = ref_total_correlation(batch["audio"].double().numpy(), batch["lyrics"].double().numpy(), 1e-3, 1e-3)
    # before any step there are no running statistics: the batch alone
    assert float(obj.batch_loss(batch, training=True)["objective"]) == pytest.approx(-pure, abs=1e-5)
    obj.update_running(earlier)
    s_old = np.cov(np.hstack([v.double().numpy() for v in earlier.values()]), rowvar=False)
    s_new = np.cov(np.hstack([v.double().numpy() for v in batch.values()]), rowvar=False)
    mixed = ref_correlation_of_covariance(0.3 * s_new + 0.7 * s_old, 5, 1e-3, 1e-3)
    assert float(obj.batch_loss(batch, training=True)["objective"]) == pytest.approx(-mixed, abs=1e-5)
    assert float(obj.loss(batch)["objective"]) == pytest.approx(-pure, abs=1e-5)  # validation: the batch alone
    z = {m: v.clone().requires_grad_() for m, v in batch.items()}
    obj.batch_loss(z, training=True)["objective"].backward()
    assert all(torch.isfinite(v.grad).all() and v.grad.abs().sum() > 0 for v in z.values())


def test_ranking_loss_matches_a_hand_computation():
    dims = {"audio": 5, "sheet": 4}
    obj = DeepCCA.from_options({"rank_weight": 2.0, "margin": 0.4}, dims)
    x, y = (v.double() for v in latent_views(40, dims.values(), latent=3, noise=0.5, seed=13))
    out = obj.loss({"audio": x, "sheet": y})
    xs, ys = x.numpy(), y.numpy()
    s = np.cov(np.hstack([xs, ys]), rowvar=False)
    w1, w2 = whiten(s[:5, :5] + 1e-3 * np.eye(5)), whiten(s[5:, 5:] + 1e-3 * np.eye(4))
    u, _, vh = np.linalg.svd(w1 @ s[:5, 5:] @ w2)
    a = (xs - xs.mean(0)) @ w1 @ u[:, :4]
    b = (ys - ys.mean(0)) @ w2 @ vh[:4].T
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    sim = a @ b.T
    hinges = []
    for i in range(40):
        for j in range(40):
            if i != j:
                hinges.append((max(0.0, 0.4 - sim[i, i] + sim[i, j]), max(0.0, 0.4 - sim[j, j] + sim[i, j])))
    ref = np.mean([h[0] for h in hinges]) / 2 + np.mean([h[1] for h in hinges]) / 2
    assert float(out["rank"]) == pytest.approx(ref, abs=1e-6)
    corr = ref_total_correlation(xs, ys, 1e-3, 1e-3)
    assert float(out["objective"]) == pytest.approx(-corr + 2.0 * ref, abs=1e-5)


def test_three_view_losses_equal_scipy():
    views = [v.float() for v in latent_views(300, (6, 8, 7), noise=1.0, seed=2)]
    dims = {"audio": 6, "sheet": 8, "lyrics": 7}
    arrays = [v.double().numpy() for v in views]
    ridges = (1e-3, 1e-3, 1e-3)
    got = DeepCCA.from_options({}, dims).loss(dict(zip(dims, views)))
    ref = sum(
        ref_total_correlation(arrays[i], arrays[j], ridges[i], ridges[j])
        for i, j in itertools.combinations(range(3), 2)
    )
    assert float(got["objective"]) == pytest.approx(-ref, abs=1e-5)
    gcca = DeepCCA.from_options({"multiview": "gcca"}, dims).loss(dict(zip(dims, views)))
    assert float(gcca["objective"]) == pytest.approx(-ref_gcca(arrays, ridges, 6), abs=1e-5)
    top2 = DeepCCA.from_options({"multiview": "gcca", "k": 2}, dims).loss(dict(zip(dims, views)))
    assert float(top2["objective"]) == pytest.approx(-ref_gcca(arrays, ridges, 2), abs=1e-5)


@pytest.mark.parametrize("multiview", ["sum", "gcca"])
def test_gradient_is_right_and_finite(multiview):
    dims = {"audio": 3, "sheet": 2, "lyrics": 3}
    obj = DeepCCA.from_options({"multiview": multiview}, dims)
    inputs = [v.double().requires_grad_() for v in latent_views(24, dims.values(), noise=1.0, seed=3)]
    assert torch.autograd.gradcheck(lambda *zs: obj.loss(dict(zip(dims, zs)))["objective"].double(), inputs, atol=1e-4)


def test_gradient_finite_at_four_times_the_dimension():
    torch.manual_seed(0)
    d = 32
    encoders = nn.ModuleDict(
        {m: nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, d)) for m in ("audio", "lyrics")}
    )
    obj = DeepCCA.from_options({}, {"audio": d, "lyrics": d})
    x = torch.randn(4 * d, 20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 4x the dimension is enough: no warning
        out = obj.loss({m: enc(x + 0.1 * torch.randn_like(x)) for m, enc in encoders.items()})
    out["objective"].backward()
    grads = [p.grad for p in encoders.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_refuses_batch_not_larger_than_dimension():
    obj = DeepCCA.from_options({}, {"audio": 16, "lyrics": 10})
    assert obj.min_batch == 17
    with pytest.raises(BatchTooSmall, match=r"got 16 rows for dimension 16"):
        obj.loss({"audio": torch.randn(16, 16), "lyrics": torch.randn(16, 10)})
    with pytest.raises(ValueError):
        obj.loss({"audio": torch.randn(4, 16), "lyrics": torch.randn(4, 10)})


def test_warns_once_when_a_training_covariance_rests_on_few_rows():
    views = {"audio": torch.randn(40, 16), "lyrics": torch.randn(40, 16)}
    batch_only = DeepCCA.from_options({"batch_weight": 1.0}, {"audio": 16, "lyrics": 16})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batch_only.loss(views)  # validation batches, which --batch-size does not set, never warn
    with pytest.warns(UgaarWarning, match=r"batches of 40 rows are below 4x the view width 16.*-o MODALITY.dim"):
        batch_only.batch_loss(views, training=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batch_only.batch_loss(views, training=True)  # once
        # the running mix (batch_weight 0.05) rests on about 800 rows: no warning
        DeepCCA.from_options({}, {"audio": 16, "lyrics": 16}).batch_loss(views, training=True)
        # nor at the toolkit's defaults: 128-wide encoders, batch 256
        wide = {"audio": torch.randn(256, 128), "lyrics": torch.randn(256, 128)}
        DeepCCA.from_options({}, {"audio": 128, "lyrics": 128}).batch_loss(wide, training=True)
    mixed = DeepCCA.from_options({"batch_weight": 0.5}, {"audio": 16, "lyrics": 16})
    with pytest.warns(UgaarWarning, match=r"batch_weight 0.5: about 40 rows"):
        mixed.batch_loss({m: v[:20] for m, v in views.items()}, training=True)


def test_fit_and_project_recover_the_shared_latent():
    n_train, dims = 2000, (10, 12)
    train = latent_views(n_train + 300, dims, latent=4, noise=0.3, seed=5)
    obj = DeepCCA.from_options({"shared_dim": 4, "r1": 1e-4, "r2": 1e-4}, {"audio": 10, "lyrics": 12})
    tr = {"audio": train[0][:n_train].float(), "lyrics": train[1][:n_train].float()}
    obj.fit(tr)
    rho_ref = [
        float(r)
        for r in scipy.linalg.svdvals(
            whiten(np.cov(tr["audio"].double().numpy(), rowvar=False) + 1e-4 * np.eye(10))
            @ np.cov(np.hstack([tr["audio"].double().numpy(), tr["lyrics"].double().numpy()]), rowvar=False)[:10, 10:]
            @ whiten(np.cov(tr["lyrics"].double().numpy(), rowvar=False) + 1e-4 * np.eye(12))
        )[:4]
    ]
    np.testing.assert_allclose(obj.canonical_correlations.numpy(), rho_ref, atol=1e-6)
    assert min(rho_ref) > 0.95
    u, v = obj.project("audio", tr["audio"]).double(), obj.project("lyrics", tr["lyrics"]).double()
    c = np.corrcoef(np.hstack([u.numpy(), v.numpy()]), rowvar=False)
    np.testing.assert_allclose(c[:4, :4], np.eye(4), atol=1e-3)  # decorrelated within a view
    np.testing.assert_allclose(c[:4, 4:], np.diag(rho_ref), atol=1e-3)  # paired across views
    test = {"audio": train[0][n_train:].float(), "lyrics": train[1][n_train:].float()}
    metrics = retrieval_metrics({m: obj.project(m, z) for m, z in test.items()})
    assert metrics["audio->lyrics"]["MRR"] > 20 * metrics["audio->lyrics"]["chance_MRR"]


def test_project_before_fit_uses_running_statistics():
    dims = {"audio": 6, "lyrics": 5}
    obj = DeepCCA.from_options({"momentum": 0.5}, dims)
    views = dict(zip(dims, latent_views(200, dims.values(), seed=6)))
    with pytest.raises(UgaarError, match="needs fit"):
        obj.project("audio", views["audio"])
    encoders = nn.ModuleDict({m: nn.Linear(d, d) for m, d in dims.items()})
    optimizers = Optimizers({"main": torch.optim.SGD(encoders.parameters(), lr=1e-3)})
    for _ in range(3):
        obj.training_step({m: encoders[m](x) for m, x in views.items()}, optimizers)
    assert int(obj.running_steps) == 3
    with torch.no_grad():
        outputs = {m: encoders[m](x) for m, x in views.items()}
        early = {m: obj.project(m, z) for m, z in outputs.items()}
        obj.fit(outputs)
        fitted = {m: obj.project(m, z) for m, z in outputs.items()}
    assert early["audio"].shape == (200, 5)
    # the running statistics come from nearly the same encoders: nearly the same canonical variates
    for m in dims:
        c = np.corrcoef(early[m].T.numpy(), fitted[m].T.numpy())[:5, 5:]
        assert np.abs(np.diag(c)).min() > 0.99


def test_training_raises_held_out_correlation():
    torch.manual_seed(0)
    n, latent, width = 3000, 3, 20
    g = torch.Generator().manual_seed(7)
    z = torch.randn(n, latent, generator=g)
    inputs = {
        m: torch.cat([z, torch.randn(n, width - latent, generator=g)], 1) @ torch.randn(width, width, generator=g)
        for m in ("audio", "lyrics")
    }
    encoders = nn.ModuleDict({m: nn.Sequential(nn.Linear(width, 32), nn.Tanh(), nn.Linear(32, 3)) for m in inputs})
    obj = DeepCCA.from_options({}, {"audio": 3, "lyrics": 3})
    optimizers = Optimizers({"main": torch.optim.Adam(encoders.parameters(), lr=3e-3)})
    held = {m: x[2500:] for m, x in inputs.items()}

    def held_out() -> float:
        with torch.no_grad():
            return -obj.validation_loss({m: encoders[m](x) for m, x in held.items()})["objective"]

    before = held_out()
    for _ in range(600):
        idx = torch.randint(0, 2500, (256,), generator=g)
        obj.training_step({m: encoders[m](x[idx]) for m, x in inputs.items()}, optimizers)
    after = held_out()
    assert before < 1.0 and after > 2.7, (before, after)  # 3 shared directions: total correlation up to 3


@pytest.mark.parametrize(
    ("dims", "values"),
    [
        ({"audio": 8, "lyrics": 8}, {}),
        ({"audio": 8, "lyrics": 6}, {"k": 3, "shared_dim": 4}),
        ({"audio": 8, "lyrics": 6, "sheet": 7}, {"multiview": "sum"}),
        ({"audio": 8, "lyrics": 6, "sheet": 7}, {"multiview": "gcca", "k": 4, "r1": 0.1, "r2": 0.01, "r3": 0.0}),
    ],
)
def test_conforms(dims, values):
    obj = check_objective(DeepCCA, dims, values)
    assert obj.shared_dim == values.get("shared_dim", min(dims.values()))


def test_options_are_checked():
    with pytest.raises(OptionError, match="above the narrowest encoder width 6"):
        DeepCCA.from_options({"shared_dim": 7}, {"audio": 8, "lyrics": 6})
    with pytest.raises(OptionError, match="objective.multiview"):
        DeepCCA.from_options({"multiview": "max"}, {"audio": 8, "lyrics": 6})
