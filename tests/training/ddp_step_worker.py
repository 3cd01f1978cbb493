"""One process of the two-process DDP test (spawned; importable by module name)."""

from __future__ import annotations

import gc
from pathlib import Path

import torch
import torch.distributed as dist
from rich.console import Console

from ugaar_kit.runfolder.config import RunConfig, merge
from ugaar_kit.testing.parts import registry as parts_registry
from ugaar_kit.training.loader import bucket_batches, shard
from ugaar_kit.training.trainer import Trainer

NAMES = {"audio": "tiny", "lyrics": "bag", "objective": "tri"}


def trainer_for(data: Path, out: Path, batch_size: int) -> Trainer:
    settings = {
        "data": data,
        "out": out,
        "batch_size": batch_size,
        "workers": 0,
        "lr": 0.01,
        "epochs": 1,
        "device": "cpu",
        "amp": False,  # float32: the sums compared must not depend on how a bfloat16 kernel splits the batch
        "seed": 5,
    }
    return Trainer(merge(RunConfig(), settings, NAMES), parts_registry("trainer"), console=Console(quiet=True))


def first_step_gradients(trainer: Trainer) -> tuple[list[str], dict[str, torch.Tensor]]:
    """Run the first training step of epoch 0 and return this process's item ids and gradients."""
    s = trainer.settings
    batches = bucket_batches(trainer.train_lengths, s.batch_size * trainer.world, s.seed, 0, drop_last=True)
    indices = shard(batches[0], trainer.rank, trainer.world)
    trainer.step(indices)
    grads = {f"{m}.{n}": p.grad.detach().clone() for m, e in trainer.encoders.items() for n, p in e.named_parameters()}
    grads.update({f"objective.{n}": p.grad.detach().clone() for n, p in trainer.objective.named_parameters()})
    return [trainer.train_data.ids[i] for i in indices], grads


def run_rank(rank: int, world: int, init_file: str, data: str, out: str, results: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        trainer = trainer_for(Path(data), Path(out), batch_size=4)
        trainer.prepare()
        ids, grads = first_step_gradients(trainer)
        torch.save({"ids": ids, "grads": grads}, Path(results) / f"rank{rank}.pt")
        trainer.train()  # the rest of the epoch, validation on rank 0, checkpoints
        trainer.finish()
        trainer.close()
        del trainer
        gc.collect()  # nothing holding gloo work may outlive the group (it aborts at exit)
        dist.barrier()
    finally:
        dist.destroy_process_group()
