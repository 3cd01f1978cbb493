"""Batches of aligned items: length-bucketed, shuffled by seed, sharded across processes.

Items of similar length share a batch so padding stays small: each epoch the items are
shuffled (seeded by run seed and epoch), cut into pools of many batches, sorted by length
inside a pool, cut into batches, and the batches shuffled again. Under `torchrun` every process
computes the same global batches of `batch_size * world` items and takes its own slice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ugaar_kit.features.cache import FeatureCache
from ugaar_kit.features.encode import encode_batches, encode_features, eval_batches
from ugaar_kit.interfaces.encoder import Batch, Encoder

POOL_BATCHES = 32
"""Batches per sorting pool: larger pools pad less but batches vary less from epoch to epoch."""


def bucket_batches(
    lengths: Sequence[float],
    batch_size: int,
    seed: int,
    epoch: int,
    *,
    drop_last: bool = True,
    pool_batches: int = POOL_BATCHES,
) -> list[list[int]]:
    """Index batches of `batch_size` over items of `lengths`, similar lengths together.

    Deterministic in (`seed`, `epoch`); with `drop_last` every batch is full (batch-statistic
    losses need it), else the last may be short."""
    n = len(lengths)
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n)
    lens = np.asarray(lengths, dtype=np.float64)
    pool = batch_size * pool_batches
    sorted_order = (
        np.concatenate(
            [chunk[np.argsort(lens[chunk], kind="stable")] for chunk in np.array_split(order, max(1, -(-n // pool)))]
        )
        if n
        else order
    )
    batches = [sorted_order[i : i + batch_size].tolist() for i in range(0, n, batch_size)]
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    return [batches[i] for i in rng.permutation(len(batches))]


def shard(batch: Sequence[int], rank: int, world: int) -> list[int]:
    """This process's contiguous slice of a global batch (rank order = `gather` order)."""
    per = len(batch) // world
    return list(batch[rank * per : (rank + 1) * per])


def length_key(caches: Mapping[str, FeatureCache], ids: Sequence[str]) -> list[float]:
    """One length per item: the sum over modalities of its length relative to that modality's
    median, so items long in every modality sort together."""
    total = np.zeros(len(ids))
    for cache in caches.values():
        lens = np.array([cache.length(i) for i in ids], dtype=np.float64)
        med = float(np.median(lens)) if len(lens) else 1.0
        total += lens / max(med, 1e-9)
    return total.tolist()


@dataclass
class SplitData:
    """The items of one split, with the caches that hold their features."""

    ids: list[str]
    caches: dict[str, FeatureCache]

    def __len__(self) -> int:
        return len(self.ids)

    def lengths(self) -> list[float]:
        return length_key(self.caches, self.ids)

    def encode(self, modality: str, encoder: Encoder, batch_size: int, device: torch.device) -> Tensor:
        """`(N, D)` eval-mode outputs of one encoder for every item of the split."""
        cache = self.caches[modality]
        lengths = [cache.length(i) for i in self.ids]
        return encode_batches(
            encoder, lengths, lambda idx: cache.get_many([self.ids[i] for i in idx]), batch_size, device
        )

    def batch(
        self,
        indices: Sequence[int],
        encoders: Mapping[str, Encoder],
        device: torch.device,
        generator: torch.Generator | None = None,
    ) -> dict[str, Batch]:
        """Each modality's collated batch of the items at `indices`, on `device`; with a
        `generator`, every item's features go through its encoder's `augment` first."""
        ids = [self.ids[i] for i in indices]
        non_blocking = device.type == "cuda"
        out = {}
        for m, cache in self.caches.items():
            features = cache.get_many(ids)
            if generator is not None:
                features = [encoders[m].augment(f, generator) for f in features]
            out[m] = encoders[m].collate(features).to(device, non_blocking=non_blocking)
        return out


__all__ = ["SplitData", "bucket_batches", "encode_batches", "encode_features", "eval_batches", "length_key", "shard"]
