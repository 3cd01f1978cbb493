"""Helpers for runs under `torchrun`: identity when torch.distributed is not initialised.

Batch-statistic losses (deep CCA, InfoNCE) must see the whole global batch: `gather` concatenates
every process's rows along dim 0 with gradients flowing back to each process's own rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import torch
import torch.distributed as dist
from torch import Tensor


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def is_main_process() -> bool:
    return rank() == 0


_local_depth = 0


@contextlib.contextmanager
def local_only() -> Iterator[None]:
    """Within this block `gather` returns its input unchanged: for work one process does alone
    (validation and the final `fit` on rank 0), where a collective would wait forever."""
    global _local_depth
    _local_depth += 1
    try:
        yield
    finally:
        _local_depth -= 1


def gather(x: Tensor) -> Tensor:
    """`(B, D)` on each of W processes -> `(W*B, D)` in rank order, differentiable."""
    if not is_distributed() or _local_depth:
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x.contiguous()), dim=0)


def gather_views(views: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """`gather` applied to every modality's outputs."""
    return {m: gather(z) for m, z in views.items()}
