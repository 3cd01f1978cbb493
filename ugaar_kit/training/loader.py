"""Batches of aligned items: length-bucketed, shuffled by seed, sharded across processes.

Items of similar length share a batch so padding stays small: each epoch the items are
shuffled (seeded by run seed and epoch), cut into pools of many batches, sorted by length
inside a pool, cut into batches, and the batches shuffled again. Under `torchrun` every process
computes the same global batches of `batch_size * world` items and takes its own slice.

With `--song-run N` a batch is instead made of runs of N items of one song (`song_runs`), so a
song's passages are one another's negatives (docs/benchmarks.md, "Batches of one song's
passages"); runs of `PAGE_SONG_RUN` by default when the training items include windows of score
pages (`song_run_for`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ugaar_kit.features.cache import FeatureCache
from ugaar_kit.features.encode import encode_batches, encode_features, eval_batches
from ugaar_kit.interfaces.dataset import Item
from ugaar_kit.interfaces.encoder import Batch, Encoder

POOL_BATCHES = 32
"""Batches per sorting pool: larger pools pad less but batches vary less from epoch to epoch."""
PAGE_SONG_RUN = 2
"""`song_run` when not given and the training items include windows of score pages: each item
beside one other of its song (docs/benchmarks.md, "Runs of two a song, the default on a
page-window build")."""
SONG_RUN_JITTER = 0.2
"""`song_run`: a song's items are sorted by length times a random factor within exp(±this)."""


def bucket_batches(
    lengths: Sequence[float],
    batch_size: int,
    seed: int,
    epoch: int,
    *,
    drop_last: bool = True,
    pool_batches: int = POOL_BATCHES,
    songs: Sequence[str] | None = None,
    song_run: int = 0,
    keys: Sequence[str] | None = None,
) -> list[list[int]]:
    """Index batches of `batch_size` over items of `lengths`, similar lengths together.

    Deterministic in (`seed`, `epoch`); with `drop_last` every batch is full (batch-statistic
    losses need it), else the last may be short. With `song_run` > 1 and each item's song
    (`songs`), a batch is made of runs of `song_run` items of one song (`_song_batches`), no
    two of a run with the same `keys` entry (`music_keys`: the same music)."""
    n = len(lengths)
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n)
    lens = np.asarray(lengths, dtype=np.float64)
    if song_run > 1 and songs is not None:
        keys = keys if keys is not None else [str(i) for i in range(n)]
        return _song_batches(order, lens, songs, keys, song_run, batch_size, rng, drop_last, pool_batches)
    pool = batch_size * pool_batches
    sorted_order = (
        np.concatenate(
            [chunk[np.argsort(lens[chunk], kind="stable")] for chunk in np.array_split(order, max(1, -(-n // pool)))]
        )
        if n
        else order
    )
    return _cut(sorted_order.tolist(), batch_size, drop_last, rng)


def _cut(flat: list[int], batch_size: int, drop_last: bool, rng: np.random.Generator) -> list[list[int]]:
    """`flat` (items in batch order) cut into batches of `batch_size` (a short last one dropped
    with `drop_last`), the batches shuffled."""
    batches = [flat[i : i + batch_size] for i in range(0, len(flat), batch_size)]
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    return [batches[i] for i in rng.permutation(len(batches))]


def song_runs(
    order: Sequence[int],
    lens: np.ndarray,
    songs: Sequence[str],
    keys: Sequence[str],
    run: int,
    rng: np.random.Generator,
) -> list[list[int]]:
    """Runs of at most `run` items of one song, each item in one: a song's items (taken in
    `order`) sorted by their length `lens` times a random factor within exp(±`SONG_RUN_JITTER`)
    (runs of similar lengths, changing from epoch to epoch), then cut into runs, an item whose
    `keys` entry is already in the run going to a later one (two items of the same music would
    be each other's false negatives)."""
    jitter = np.exp(rng.uniform(-SONG_RUN_JITTER, SONG_RUN_JITTER, size=len(lens)))
    by_song: dict[str, list[int]] = {}
    for i in order:
        by_song.setdefault(songs[i], []).append(int(i))
    runs: list[list[int]] = []
    for items in by_song.values():
        pending = sorted(items, key=lambda i: float(lens[i] * jitter[i]))
        while pending:
            taken: list[int] = []
            seen: set[str] = set()
            rest: list[int] = []
            for i in pending:
                if len(taken) < run and keys[i] not in seen:
                    taken.append(i)
                    seen.add(keys[i])
                else:
                    rest.append(i)
            runs.append(taken)
            pending = rest
    return runs


def _song_batches(
    order: np.ndarray,
    lens: np.ndarray,
    songs: Sequence[str],
    keys: Sequence[str],
    run: int,
    batch_size: int,
    rng: np.random.Generator,
    drop_last: bool,
    pool_batches: int,
) -> list[list[int]]:
    """Batches of `song_runs` (a contrastive batch then holds passages of the same song as one
    another's negatives, the hardest a passage retrieval's pool holds): runs
    shuffled, sorted by their mean length within pools of `pool_batches` batches, cut into
    batches, which are shuffled. Little padding: a song's items in random runs doubled the
    step's time on the LMD page-window build."""
    runs = song_runs(order.tolist(), lens, songs, keys, run, rng)
    runs = [runs[i] for i in rng.permutation(len(runs))]
    per_pool = max(1, batch_size * pool_batches // run)
    flat: list[int] = []
    for a in range(0, len(runs), per_pool):
        pool = sorted(runs[a : a + per_pool], key=lambda r: float(lens[r].mean()))
        flat.extend(i for r in pool for i in r)
    return _cut(flat, batch_size, drop_last, rng)


def song_run_for(song_run: int | None, items: Sequence[Item], say: Callable[[str], None] | None = None) -> int:
    """`song_run` as given, else `PAGE_SONG_RUN` when `items` include windows of score pages
    (a `--whole-songs` build's training page windows: `say` tells so), else 0 (items at random)."""
    if song_run is not None:
        return song_run
    if not any("page_window" in it.meta for it in items):
        return 0
    if say is not None:
        say(f"batches of runs of {PAGE_SONG_RUN} items a song: the training items include page windows")
    return PAGE_SONG_RUN


def epoch_batches(
    lengths: Sequence[float], items: Sequence[Item], batch_size: int, seed: int, epoch: int, song_run: int = 0
) -> list[list[int]]:
    """A training epoch's full batches of `items` (of `lengths`): bucketed by length
    (`bucket_batches`), or in runs of `song_run` items of one song."""
    runs = song_run > 1
    return bucket_batches(
        lengths,
        batch_size,
        seed,
        epoch,
        drop_last=True,
        songs=[it.song for it in items] if runs else None,
        song_run=song_run,
        keys=music_keys(items) if runs else None,
    )


def music_keys(items: Sequence[Item]) -> list[str]:
    """Each item's music: its passage (a training window's `window_of`, else its id), or the
    passage's `group` of verbatim repeats within its song when it has one."""
    group = {it.id: f"{it.song}/{it.group}" for it in items if it.group is not None}
    out = []
    for it in items:
        passage = str(it.meta.get("window_of") or it.id)
        out.append(group.get(passage, passage))
    return out


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
