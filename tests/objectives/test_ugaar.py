"""The UGAAR objective on synthetic three-view data with a known shared latent."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn
from ugaar_kit_plugins.objective_dcca.objective import DCCAOptions, DeepCCA
from ugaar_kit_plugins.objective_ugaar.objective import UGAAR, UGAAROptions

from ugaar_kit.errors import OptionError
from ugaar_kit.interfaces import options
from ugaar_kit.interfaces.objective import Optimizers
from ugaar_kit.retrieval.metrics import retrieval_metrics
from ugaar_kit.testing import check_objective
from ugaar_kit.toolkit.infonce import info_nce

DIMS = {"audio": 8, "sheet": 8, "lyrics": 8}


def three_views(n: int, seed: int, lyrics_noise: float = 1.0) -> dict[str, torch.Tensor]:
    """Audio and sheet share a 4-d latent strongly; lyrics see it weakly."""
    g = torch.Generator().manual_seed(seed)
    latent = torch.randn(n, 4, generator=g)
    mix = {m: torch.randn(4, 16, generator=torch.Generator().manual_seed(100 + i)) for i, m in enumerate(DIMS)}
    noise = {"audio": 0.3, "sheet": 0.3, "lyrics": lyrics_noise}
    return {m: latent @ mix[m] + noise[m] * torch.randn(n, 16, generator=g) for m in DIMS}


def make_optimizers(obj: UGAAR, encoders: nn.ModuleDict) -> Optimizers:
    groups = obj.parameter_groups()
    claimed = {id(p) for g in groups.values() for p in g["params"]}
    main = list(encoders.parameters()) + [p for p in obj.parameters() if id(p) not in claimed]
    opts = {"main": torch.optim.Adam(main, lr=3e-3)}
    for name, g in groups.items():
        opts[name] = torch.optim.Adam(g["params"], lr=g["lr"], betas=g["betas"])
    return Optimizers(opts)


def test_conforms():
    check_objective(UGAAR, DIMS)
    check_objective(UGAAR, DIMS, {"conditional": "false", "d_steps": "2", "noise_dim": "0"})
    check_objective(UGAAR, DIMS, {"ground_truth": "contrastive", "rho_power": "1"})


def test_a_contrastive_ground_truth_trains_infonce_and_needs_no_wide_batch():
    obj = UGAAR(UGAAROptions(), {"audio": 128, "sheet": 128, "lyrics": 8})  # the default ground truth
    assert obj.contrastive and obj.min_batch == 2 and obj.default_batch == 128
    dcca = UGAAR(UGAAROptions(ground_truth="dcca"), {"audio": 128, "sheet": 128, "lyrics": 8})
    assert dcca.min_batch == 129 and dcca.default_batch is None  # more rows than dimensions: the trainer's 256
    assert obj.rho_power == 1.0 and dcca.rho_power == 0.0  # components weighted by rho, or white


def test_a_run_saved_before_the_ground_truth_option_keeps_deep_cca():
    saved = {f.name: f.default for f in dataclasses.fields(UGAAROptions)}
    for name in UGAAROptions.LEGACY:
        del saved[name]
    assert options.build(UGAAROptions, options.upgrade(UGAAROptions, saved)).ground_truth == "dcca"
    assert options.build(UGAAROptions, options.upgrade(UGAAROptions, {"d_steps": 2})).ground_truth == "contrastive"
    with pytest.raises(OptionError, match="one width"):
        UGAAR(UGAAROptions(ground_truth="contrastive"), {"audio": 8, "sheet": 16, "lyrics": 8})
    torch.manual_seed(0)
    obj = UGAAR(UGAAROptions(ground_truth="contrastive"), DIMS)
    views = {m: nn.Linear(16, d)(x) for (m, x), d in zip(three_views(16, 3).items(), DIMS.values())}
    terms = obj.loss(views)
    za, zs = (torch.nn.functional.normalize(views[m], dim=-1) for m in ("audio", "sheet"))
    assert float(terms["cca"].detach()) == pytest.approx(float(info_nce(za, zs, obj.logit_scale).detach()), rel=1e-5)
    terms["objective"].backward()
    assert obj.log_scale.grad is not None  # the temperature is learnt


def test_rho_power_weights_the_canonical_components_by_their_correlation():
    torch.manual_seed(0)
    views = three_views(256, 1)
    z = {m: nn.Linear(16, d)(x).detach() for (m, x), d in zip(views.items(), DIMS.values())}
    plain = UGAAR(UGAAROptions(shared_dim=4, rho_power=0), DIMS)
    weighted = UGAAR(UGAAROptions(shared_dim=4, rho_power=2), DIMS)
    plain.fit(z)
    weighted.fit(z)
    rho = plain.ground_truth.canonical_correlations
    a, w = plain.project("audio", z["audio"]).double(), weighted.project("audio", z["audio"]).double()
    # the same variates, each scaled by rho^2, up to the common rotation
    assert torch.allclose(w @ w.T, (a * rho.pow(2)) @ (a * rho.pow(2)).T, atol=1e-3)


def test_each_player_steps_with_its_own_optimizer():
    torch.manual_seed(0)
    obj = UGAAR(UGAAROptions(), DIMS)
    encoders = nn.ModuleDict({m: nn.Linear(16, d) for m, d in DIMS.items()})
    optimizers = make_optimizers(obj, encoders)
    assert {id(p) for p in optimizers["discriminator"].param_groups[0]["params"]} == {
        id(p) for p in obj.discriminator.parameters()
    }
    assert not {id(p) for p in obj.discriminator.parameters()} & {
        id(p) for g in optimizers["main"].param_groups for p in g["params"]
    }
    d_before = [p.detach().clone() for p in obj.discriminator.parameters()]
    g_before = [p.detach().clone() for p in obj.generator.parameters()]
    views = three_views(128, 0)
    logged = obj.training_step({m: encoders[m](x) for m, x in views.items()}, optimizers)
    assert any(not torch.equal(a, b) for a, b in zip(d_before, obj.discriminator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(g_before, obj.generator.parameters()))
    assert optimizers["discriminator"].state and optimizers["main"].state
    assert {"d/loss", "g/adversarial", "g/pairing", "transfer/audio-lyrics", "cca"} <= set(logged)


def test_ground_truth_is_the_deep_cca_of_audio_and_sheet():
    """On one batch, UGAAR's audio/sheet space equals a `dcca` objective's with the same options."""
    torch.manual_seed(0)
    views = three_views(256, 1)
    z = {m: nn.Linear(16, d)(x).detach() for (m, x), d in zip(views.items(), DIMS.values())}
    ugaar = UGAAR(UGAAROptions(ground_truth="dcca", shared_dim=4), DIMS)
    dcca = DeepCCA(DCCAOptions(shared_dim=4), {"audio": 8, "sheet": 8})
    ugaar.fit(z)
    dcca.fit({m: z[m] for m in ("audio", "sheet")})
    a, s = ugaar.project("audio", z["audio"]), ugaar.project("sheet", z["sheet"])
    ref_a, ref_s = dcca.project("audio", z["audio"]), dcca.project("sheet", z["sheet"])
    # The same space up to one common rotation: every audio-sheet similarity is the same.
    assert torch.allclose(a @ s.T, ref_a @ ref_s.T, atol=1e-4)
    assert torch.allclose(a @ a.T, ref_a @ ref_a.T, atol=1e-4)
    corr = ugaar.ground_truth.canonical_correlations
    assert corr[0] > 0.9  # the shared latent is found


def test_audio_sheet_training_is_dcca_step_for_step():
    """With the lyrics terms weighted 0, UGAAR trains the audio and sheet encoders exactly as
    `dcca` does, from the first step (batch-only covariance) through the running mix."""
    torch.manual_seed(0)
    enc = nn.ModuleDict({m: nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 8)) for m in DIMS})
    twin = nn.ModuleDict({m: nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 8)) for m in ("audio", "sheet")})
    twin.load_state_dict({k: v for k, v in enc.state_dict().items() if not k.startswith("lyrics")})
    zero = {"transfer_weight": 0.0, "adversarial_weight": 0.0, "pairing_weight": 0.0}
    ugaar = UGAAR(UGAAROptions(ground_truth="dcca", batch_weight=0.2, momentum=0.2, **zero), DIMS)
    dcca = DeepCCA(DCCAOptions(batch_weight=0.2, momentum=0.2), {"audio": 8, "sheet": 8})
    optimizers = make_optimizers(ugaar, enc)
    twin_opt = Optimizers({"main": torch.optim.Adam(twin.parameters(), lr=3e-3)})
    for step in range(8):
        views = three_views(64, 2000 + step)
        a = ugaar.training_step({m: enc[m](x) for m, x in views.items()}, optimizers)
        b = dcca.training_step({m: twin[m](views[m]) for m in ("audio", "sheet")}, twin_opt)
        assert abs(a["corr/audio-sheet"] - b["corr/audio-sheet"]) < 1e-9
    for m in ("audio", "sheet"):
        for p, q in zip(enc[m].parameters(), twin[m].parameters()):
            assert torch.allclose(p, q, atol=1e-6)
    assert torch.allclose(ugaar.ground_truth.running_cov, dcca.running_cov)
    assert int(ugaar.ground_truth.running_steps) == int(dcca.running_steps) == 8


@pytest.mark.parametrize("ground_truth", ["dcca", "contrastive"])
def test_training_aligns_lyrics_without_spoiling_audio_sheet(ground_truth):
    torch.manual_seed(0)
    obj = UGAAR(UGAAROptions(ground_truth=ground_truth, shared_dim=4, hidden=64), DIMS)
    encoders = nn.ModuleDict(
        {m: nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, d)) for m, d in DIMS.items()}
    )
    optimizers = make_optimizers(obj, encoders)
    first = last = None
    for step in range(300):
        views = three_views(256, 1000 + step)
        logged = obj.training_step({m: encoders[m](x) for m, x in views.items()}, optimizers)
        if first is None:
            first = logged
        last = logged
    assert last["transfer/audio-lyrics"] < first["transfer/audio-lyrics"] - 0.2
    assert last["g/pairing"] < first["g/pairing"]
    with torch.no_grad():
        train = three_views(1024, 7)
        obj.fit({m: encoders[m](x) for m, x in train.items()})
        test = three_views(200, 8)
        emb = {m: obj.project(m, encoders[m](x)) for m, x in test.items()}
    metrics = retrieval_metrics(emb)
    chance = metrics["audio->sheet"]["chance_MRR"]
    assert metrics["audio->sheet"]["MRR"] > 0.5
    assert metrics["lyrics->audio"]["MRR"] > 5 * chance
    assert metrics["lyrics->sheet"]["MRR"] > 5 * chance
