"""Moved: the process group, devices and gradient synchronisation of `torchrun` runs live in
`ugaar_kit.distributed` with the rest of the multi-process helpers; this path keeps working."""

from ugaar_kit.distributed import (
    average_gradients_of,
    barrier,
    broadcast_flag,
    broadcast_int,
    init_from_env,
    is_distributed,
    launched_by_torchrun,
    pick_device,
    place,
    rank,
    release,
    seed_everything,
    world_size,
    wrap_encoder,
)

__all__ = [
    "average_gradients_of",
    "barrier",
    "broadcast_flag",
    "broadcast_int",
    "init_from_env",
    "is_distributed",
    "launched_by_torchrun",
    "pick_device",
    "place",
    "rank",
    "release",
    "seed_everything",
    "world_size",
    "wrap_encoder",
]
