"""Symmetric InfoNCE (CLIP, CLAP): the loss the contrastive objective and UGAAR's contrastive
ground truth share."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def info_nce(za: Tensor, zb: Tensor, scale: Tensor) -> Tensor:
    """Symmetric InfoNCE of L2-normalised `za`, `zb` `(B, D)` (row i matches row i), logit
    scale `scale` (1 / temperature): a scalar."""
    logits = scale * za @ zb.T
    labels = torch.arange(za.shape[0], device=za.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
