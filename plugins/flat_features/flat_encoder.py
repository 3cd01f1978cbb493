"""What the `flat` encoders share: fixed-length vectors stacked without padding, passed through."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ugaar_kit.interfaces.encoder import Batch, Encoder


class FlatEncoder(Encoder):
    """An encoder whose features are already its output: `(D,)` vectors, stacked to `(B, D)`
    with no mask; `forward` returns them as float32. No parameters, nothing to fit."""

    def collate(self, features: Sequence[Tensor]) -> Batch:
        """`(D,)` vectors -> `(B, D)`, no mask (every vector has the same length)."""
        if not features:
            raise ValueError("cannot collate an empty batch")
        return Batch(torch.stack(list(features)))

    def forward(self, batch: Batch) -> Tensor:
        """`(B, D)` -> `(B, D)` float32, unchanged."""
        return batch.data.float().reshape(len(batch), -1)
