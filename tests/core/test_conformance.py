"""The conformance checks themselves catch the mistakes they exist for."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from ugaar_kit.interfaces.encoder import Batch, Encoder, masked_mean
from ugaar_kit.interfaces.objective import Objective
from ugaar_kit.testing import check_encoder, check_objective

ITEMS = [torch.randn(3, 5), torch.randn(3, 9)]


class SeqEncoder(Encoder):
    name = "seq"
    modality = "audio"

    use_mask = True

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self.proj = nn.Conv1d(3, 4, 1)

    @property
    def output_dim(self) -> int:
        return 4

    def featurize(self, raw: Tensor) -> Tensor:
        return raw

    def forward(self, batch: Batch) -> Tensor:
        return masked_mean(self.proj(batch.data), batch.mask if self.use_mask else None)


def test_a_correct_encoder_passes():
    check_encoder(SeqEncoder, ITEMS)


class MaskBlindEncoder(SeqEncoder):
    use_mask = False


def test_ignoring_the_mask_is_caught():
    with pytest.raises(AssertionError, match="mask is not respected"):
        check_encoder(MaskBlindEncoder, ITEMS)


class Mse(Objective):
    """Pulls paired views together (collapses, but conforms)."""

    name = "mse"
    n_views = (2,)

    def loss(self, views):
        a, b = views.values()
        return {"objective": (a - b).pow(2).mean()}


class NoUpdate(Mse):
    name = "no-update"

    def training_step(self, views, optimizers):
        return {"objective": float(self.loss(views)["objective"].detach())}


def test_a_correct_objective_passes():
    check_objective(Mse, {"audio": 4, "sheet": 4})


def test_an_objective_that_does_not_step_is_caught():
    with pytest.raises(AssertionError, match="did not update the encoders"):
        check_objective(NoUpdate, {"audio": 4, "sheet": 4})
