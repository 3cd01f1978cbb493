"""Runs of several processes under `torchrun`, in one place: identity when torch.distributed
is not initialised.

Batch-statistic losses (deep CCA, InfoNCE) must see the whole global batch: `gather` concatenates
every process's rows along dim 0 with gradients flowing back to each process's own rows.

The trainer's side: the process group `torchrun` describes (`init_from_env`), the device
(`pick_device`, also what `embed` and `search` run on), and gradient synchronisation.
Encoders are wrapped in `DistributedDataParallel`, which averages their gradients. An objective's
own parameters are used through its methods (`loss`, `training_step`), never its `forward`, so
DDP cannot see them: each gets a hook that averages its gradient across processes as soon as it
is accumulated. Losses over batch statistics gather every process's rows
(`ugaar_kit.infra.distributed.gather_views`); the gather's backward sums the gradient of every copy
of the loss, so after DDP's average the encoders hold exactly the gradient of one process on the
concatenated batch.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn


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


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def init_from_env(device: str) -> bool:
    """Join the process group `torchrun` describes (NCCL on CUDA, else gloo); True if this call
    created it (so `finish` should destroy it)."""
    if not launched_by_torchrun() or (dist.is_available() and dist.is_initialized()):
        return False
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if use_cuda else "gloo")
    return True


def pick_device(device: str) -> torch.device:
    """`auto`: CUDA when present (this process's GPU under torchrun), else the CPU."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and is_distributed():
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    if device.startswith("cuda") and not torch.cuda.is_available():
        from ugaar_kit.errors import OptionError

        raise OptionError(f"--device {device}: CUDA is not available on this machine (use cpu or auto)")
    try:
        return torch.device(device)
    except RuntimeError:
        from ugaar_kit.errors import OptionError

        raise OptionError(f"--device {device!r}: expected auto, cpu, cuda or cuda:N") from None


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX), so that autocast to it
    makes convolutions and matrix products faster, not slower (emulated bfloat16 is)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def autocast_dtype(device: torch.device, amp: bool) -> torch.dtype | None:
    """The dtype a training step's forward pass autocasts to with mixed precision (`amp`):
    float16 on CUDA (with gradient scaling), bfloat16 on a CPU that has it natively (no scaling:
    bfloat16 has float32's range), None (float32 throughout) otherwise."""
    if not amp:
        return None
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and native_bf16():
        return torch.bfloat16
    return None


def wrap_encoder(encoder: nn.Module, device: torch.device) -> nn.Module:
    """DDP around an encoder with trainable parameters (others are returned as they are)."""
    if not is_distributed() or not any(p.requires_grad for p in encoder.parameters()):
        return encoder
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(encoder, device_ids=ids, find_unused_parameters=False)


def average_gradients_of(module: nn.Module) -> list[Any]:
    """Average each trainable parameter's gradient across processes when it is accumulated.

    Every process runs the same objective code, so hooks fire in the same order everywhere.
    Returns the hook handles."""
    if not is_distributed():
        return []
    world = world_size()

    def hook(p: torch.Tensor) -> None:
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad.div_(world)

    return [p.register_post_accumulate_grad_hook(hook) for p in module.parameters() if p.requires_grad]


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def broadcast_flag(flag: bool, device: torch.device | None = None) -> bool:
    """Rank 0's `flag` on every process (e.g. early stopping); `device` must suit the backend
    (a CUDA device for NCCL)."""
    if not is_distributed():
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int64, device=device)
    dist.broadcast(t, src=0)
    return bool(t.item())


def broadcast_int(value: int, device: torch.device | None = None) -> int:
    """Rank 0's `value` on every process (e.g. a schedule's length measured on rank 0)."""
    if not is_distributed():
        return int(value)
    t = torch.tensor([int(value)], dtype=torch.int64, device=device)
    dist.broadcast(t, src=0)
    return int(t.item())


__all__ = [
    "average_gradients_of",
    "barrier",
    "broadcast_flag",
    "broadcast_int",
    "init_from_env",
    "is_distributed",
    "launched_by_torchrun",
    "pick_device",
    "rank",
    "world_size",
    "wrap_encoder",
]


def place(
    encoders: dict[str, nn.Module], objective: nn.Module, device: torch.device
) -> tuple[dict[str, nn.Module], list[Any]]:
    """Move the encoders and the objective to `device`: the encoders as the training loop calls
    them (DDP-wrapped under torchrun) and the hooks that average the objective's gradients."""
    for enc in encoders.values():
        enc.to(device)
    objective.to(device)
    return {m: wrap_encoder(enc, device) for m, enc in encoders.items()}, average_gradients_of(objective)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators alike on every process."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def release(created_group: bool) -> None:
    """At a run's end: free what DDP wrappers left (they hold the process group and gloo work,
    and freed later, at exit, they can abort the process) while the group and the interpreter
    are alive, then destroy the group if this run created it. Drop the wrappers first."""
    import gc

    gc.collect()
    if created_group:
        dist.destroy_process_group()
