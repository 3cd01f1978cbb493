"""The `contrastive` objective: InfoNCE by hand, temperature, pair weights, a tiny training."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from ugaar_kit_plugins.objective_contrastive.objective import Contrastive
from ugaar_kit_plugins.objective_contrastive.pair_weights import parse_pair_weights

from ugaar_kit.errors import OptionError
from ugaar_kit.interfaces.objective import Optimizers
from ugaar_kit.retrieval.metrics import retrieval_metrics
from ugaar_kit.testing import check_objective


def ce(logits_row, target):
    return -logits_row[target] + math.log(sum(math.exp(v) for v in logits_row))


def test_loss_matches_hand_computation():
    # normalised: a = (1,0), (0,1); b = (1,0), (0.6,0.8); scale 1/0.5 = 2
    obj = Contrastive.from_options({"temperature": 0.5, "learn_temperature": False}, {"audio": 2, "sheet": 2})
    out = obj.loss({"audio": torch.tensor([[2.0, 0.0], [0.0, 0.5]]), "sheet": torch.tensor([[1.0, 0.0], [3.0, 4.0]])})
    logits = [[2.0, 1.2], [0.0, 1.6]]
    rows = (ce(logits[0], 0) + ce(logits[1], 1)) / 2
    cols = (ce([logits[0][0], logits[1][0]], 0) + ce([logits[0][1], logits[1][1]], 1)) / 2
    assert float(out["objective"]) == pytest.approx((rows + cols) / 2, abs=1e-6)
    assert float(out["nce/audio-sheet"]) == pytest.approx((rows + cols) / 2, abs=1e-6)
    assert float(out["logit_scale"]) == pytest.approx(2.0)


def test_pair_weights_give_a_weighted_mean():
    dims = {"audio": 4, "sheet": 4, "lyrics": 4}
    torch.manual_seed(0)
    views = {m: torch.randn(6, 4) for m in dims}
    with torch.no_grad():
        plain = Contrastive.from_options({}, dims).loss(views)
        weighted = Contrastive.from_options({"weights": "sheet-audio:2,audio-lyrics:0.5,lyrics-sheet:0"}, dims).loss(
            views
        )
    expected = (2 * plain["nce/audio-sheet"] + 0.5 * plain["nce/audio-lyrics"]) / 2.5
    assert float(weighted["objective"]) == pytest.approx(float(expected), abs=1e-6)
    assert "nce/sheet-lyrics" not in weighted
    assert float(plain["objective"]) == pytest.approx(
        float(plain["nce/audio-sheet"] + plain["nce/audio-lyrics"] + plain["nce/sheet-lyrics"]) / 3, abs=1e-6
    )


def test_parse_pair_weights_refuses_bad_entries():
    mods = ("audio", "sheet", "lyrics")
    assert parse_pair_weights(("lyrics-audio:0.5",), mods) == {
        ("audio", "sheet"): 1.0,
        ("audio", "lyrics"): 0.5,
        ("sheet", "lyrics"): 1.0,
    }
    for bad, match in [
        (("audio-piano:1",), "PAIR:WEIGHT"),
        (("audio-sheet",), "PAIR:WEIGHT"),
        (("audio-sheet:x",), "not a number"),
        (("audio-sheet:-1",), ">= 0"),
        (("audio-sheet:1", "sheet-audio:2"), "given twice"),
        (("audio-sheet:0", "audio-lyrics:0", "sheet-lyrics:0"), "nothing would be trained"),
    ]:
        with pytest.raises(OptionError, match=match):
            parse_pair_weights(bad, mods)


def test_gradients_reach_encoders_projections_and_temperature():
    obj = Contrastive.from_options({"dim": 3}, {"audio": 5, "sheet": 4})
    a = torch.randn(8, 5, requires_grad=True)
    s = torch.randn(8, 4, requires_grad=True)
    obj.loss({"audio": a, "sheet": s})["objective"].backward()
    for t in (a, s, obj.log_scale, obj.projections["audio"].weight, obj.projections["sheet"].weight):
        assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0
    assert obj.project("audio", a).norm(dim=1).detach().allclose(torch.ones(8))
    assert obj.shared_dim == 3


def test_logit_scale_is_clamped():
    obj = Contrastive.from_options({}, {"audio": 4, "sheet": 4})
    assert float(obj.logit_scale.detach()) == pytest.approx(1 / 0.07)
    with torch.no_grad():
        obj.log_scale.fill_(math.log(1000.0))
    assert float(obj.logit_scale.detach()) == pytest.approx(100.0)
    with pytest.raises(OptionError, match="max_logit_scale"):
        Contrastive.from_options({"temperature": 0.005}, {"audio": 4, "sheet": 4})
    with pytest.raises(OptionError, match="objective.dim"):
        Contrastive.from_options({}, {"audio": 4, "sheet": 5})


def test_tiny_training_drives_the_loss_down_and_aligns():
    torch.manual_seed(0)
    n, latent = 1200, 6
    z = torch.randn(n, latent)
    inputs = {m: z @ torch.randn(latent, 16) + 0.3 * torch.randn(n, 16) for m in ("audio", "sheet")}
    encoders = nn.ModuleDict({m: nn.Linear(16, 8) for m in inputs})
    obj = Contrastive.from_options({}, {"audio": 8, "sheet": 8})
    optimizers = Optimizers({"main": torch.optim.Adam([*encoders.parameters(), *obj.parameters()], lr=1e-2)})
    held = {m: x[1000:] for m, x in inputs.items()}
    with torch.no_grad():
        start = obj.validation_loss({m: encoders[m](x) for m, x in held.items()})["objective"]
    for _ in range(150):
        idx = torch.randint(0, 1000, (128,))
        obj.training_step({m: encoders[m](x[idx]) for m, x in inputs.items()}, optimizers)
    with torch.no_grad():
        outputs = {m: encoders[m](x) for m, x in held.items()}
        end = obj.validation_loss(outputs)["objective"]
        metrics = retrieval_metrics({m: obj.project(m, o) for m, o in outputs.items()})["audio->sheet"]
    assert end < 0.5 * start, (start, end)
    assert metrics["R@1"] > 0.8 and metrics["MRR"] > 20 * metrics["chance_MRR"]


@pytest.mark.parametrize(
    ("dims", "values"),
    [
        ({"audio": 8, "sheet": 8}, {}),
        ({"audio": 8, "sheet": 8}, {"learn_temperature": "false", "temperature": "0.2"}),
        ({"audio": 8, "sheet": 6, "lyrics": 5}, {"dim": 4, "weights": "audio-sheet:1,audio-lyrics:0.5"}),
        ({"audio": 8, "sheet": 8, "lyrics": 8}, {"max_logit_scale": 50, "weights": ["sheet-lyrics:0"]}),
    ],
)
def test_conforms(dims, values):
    check_objective(Contrastive, dims, values)


def test_anchors_are_moved_by_their_own_pairs_only():
    dims = {"audio": 4, "sheet": 4, "lyrics": 4}
    torch.manual_seed(0)
    views = {m: torch.randn(6, 4, requires_grad=True) for m in dims}
    obj = Contrastive.from_options({"anchors": "audio,sheet", "weights": "audio-sheet:0"}, dims)
    out = obj.loss(views)
    out["objective"].backward()
    # with the audio-sheet pair off, only the lyrics receive a gradient
    assert views["audio"].grad is None and views["sheet"].grad is None
    assert views["lyrics"].grad is not None and views["lyrics"].grad.abs().sum() > 0
    with torch.no_grad():  # the loss value is the plain one: detaching changes gradients only
        plain = Contrastive.from_options({"weights": "audio-sheet:0"}, dims).loss(views)
    assert float(out["objective"].detach()) == pytest.approx(float(plain["objective"]), abs=1e-6)
    with pytest.raises(OptionError, match="not trained here"):
        Contrastive.from_options({"anchors": "piano"}, dims)
    with pytest.raises(OptionError, match="not every modality"):
        Contrastive.from_options({"anchors": "audio,sheet,lyrics"}, dims)


def test_freeze_anchors_at_trains_the_anchor_space_then_the_others_onto_it():
    dims = {"audio": 4, "sheet": 4, "lyrics": 4}
    torch.manual_seed(0)
    obj = Contrastive.from_options({"anchors": "audio,sheet", "freeze_anchors_at": "0.6"}, dims)

    def grads(progress):
        obj.set_progress(progress)
        views = {m: torch.randn(6, 4, requires_grad=True) for m in dims}
        out = obj.loss(views)
        out["objective"].backward()
        return {m: v.grad is not None and float(v.grad.abs().sum()) > 0 for m, v in views.items()}, out

    moved, out = grads(0.3)  # stage 1: the audio-sheet space alone
    assert obj.stage == 1 and moved == {"audio": True, "sheet": True, "lyrics": False}
    assert set(k for k in out if k.startswith("nce/")) == {"nce/audio-sheet"}
    moved, out = grads(0.6)  # stage 2: the lyrics onto the frozen space
    assert obj.stage == 2 and moved == {"audio": False, "sheet": False, "lyrics": True}
    assert set(k for k in out if k.startswith("nce/")) == {"nce/audio-lyrics", "nce/sheet-lyrics"}
    obj.set_progress(7.0)  # clamped
    assert obj.progress == 1.0 and obj.stage == 2
    assert Contrastive.from_options({"anchors": "audio,sheet"}, dims).stage == 0
    with pytest.raises(OptionError, match="two or more anchors"):
        Contrastive.from_options({"anchors": "audio", "freeze_anchors_at": "0.5"}, dims)
    with pytest.raises(OptionError, match="first .* stage weighs 0"):
        Contrastive.from_options(
            {"anchors": "audio,sheet", "freeze_anchors_at": "0.5", "weights": "audio-sheet:0"}, dims
        )
