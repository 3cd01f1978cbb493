"""Training-time augmentation of cached features, for encoders to reuse in `Encoder.augment`.

Features are cached once, unaugmented (`featurize` stays deterministic); the trainer hands each
training item's features to its encoder's `augment(features, generator)` before collating, with
a generator seeded by the run seed and the step, so a run (and its resume) stays reproducible.
Validation, evaluation and `embed` never augment.

Every function takes a `(H, T)` feature (rows: mel bands or pixel rows; columns: time or width)
and returns a new tensor of the same height.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F


def uniform(generator: torch.Generator, low: float, high: float) -> float:
    """One draw from U(low, high)."""
    return low + (high - low) * float(torch.rand((), generator=generator))


def log_uniform(generator: torch.Generator, spread: float) -> float:
    """A factor between 1 / (1 + spread) and 1 + spread, uniform in log scale."""
    if spread <= 0:
        return 1.0
    bound = math.log1p(spread)
    return math.exp(uniform(generator, -bound, bound))


def stretch(x: Tensor, factor: float) -> Tensor:
    """`(H, T)` resampled along T to `round(T * factor)` steps (at least 1), linearly."""
    length = max(1, round(int(x.shape[-1]) * factor))
    if length == x.shape[-1]:
        return x
    return F.interpolate(x[None], size=length, mode="linear", align_corners=False)[0]


def mask_span(x: Tensor, axis: int, max_width: int, generator: torch.Generator, value: float = 0.0) -> Tensor:
    """`x` with one span of 0 to `max_width` consecutive rows (`axis=0`) or columns (`axis=1`)
    set to `value` (SpecAugment's frequency and time masks)."""
    size = int(x.shape[axis])
    width = min(size, int(torch.randint(0, max_width + 1, (), generator=generator)))
    if width == 0:
        return x
    start = int(torch.randint(0, size - width + 1, (), generator=generator))
    out = x.clone()
    if axis == 0:
        out[start : start + width, :] = value
    else:
        out[:, start : start + width] = value
    return out


def shift_rows(x: Tensor, shift: int, value: float = 0.0) -> Tensor:
    """`x` moved `shift` rows down (up when negative), the rows that come in set to `value`."""
    if shift == 0:
        return x
    out = torch.full_like(x, value)
    if shift > 0:
        out[shift:] = x[:-shift]
    else:
        out[:shift] = x[-shift:]
    return out
