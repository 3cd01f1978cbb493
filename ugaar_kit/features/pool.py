"""The one worker pool that featurizes: `work(encoder, task)` over many tasks, in this process or
in worker processes; each task gives any number of results, handed on as they are made.

Both the training feature cache (chunks of items) and `embed` (one file a task: read, cut into
rows and featurized a part at a time, so a long recording never sits whole in memory) come here.
Task `i` runs in worker `i % workers`; results come from the workers in turn, so they keep the
order of their tasks within a worker but not across workers: each result says what it is. Workers are DataLoader worker processes: one torch thread each, the
encoder in eval mode, no gradients, and on Linux they die with their parent, so a killed job
leaves no process holding its files. On the CPU they are forked (the encoder is shared, not
copied); when the encoder lives on a GPU they get a CPU copy of it and are spawned.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import torch

from ugaar_kit.features.encode import device_of, evaluating
from ugaar_kit.interfaces.encoder import Encoder

T = TypeVar("T")
R = TypeVar("R")
PREFETCH = 4
"""Tasks each worker runs ahead of the consumer (bounds memory when the consumer is slower)."""


class _Tasks(torch.utils.data.IterableDataset):
    """The results of `work(encoder, task)` over this worker's share of the tasks."""

    def __init__(self, encoder: Encoder, tasks: Sequence[Any], work: Callable[[Encoder, Any], Iterable[Any]]) -> None:
        self.encoder = encoder
        self.tasks = tasks
        self.work = work

    def __iter__(self) -> Iterator[Any]:
        info = torch.utils.data.get_worker_info()
        mine = self.tasks if info is None else self.tasks[info.id :: info.num_workers]
        for task in mine:
            with torch.no_grad():
                yield from self.work(self.encoder, task)


def _identity(x: Any) -> Any:
    return x


def _start_worker(parent: int, _: int) -> None:
    """A worker: one torch thread, the encoder in eval mode, and it ends with its parent."""
    torch.set_num_threads(1)
    info = torch.utils.data.get_worker_info()
    if info is not None and isinstance(info.dataset, _Tasks):
        info.dataset.encoder.eval()
    die_with_parent(parent)


def die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when its parent dies (`PR_SET_PDEATHSIG`), so a worker
    does not outlive a killed job holding its files; elsewhere nothing happens."""
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def featurized(
    encoder: Encoder, tasks: Sequence[T], work: Callable[[Encoder, T], Iterable[R]], workers: int = 0
) -> Iterator[R]:
    """The results of `work(encoder, task)` for every task (an iterable each: a generator gives
    its results one at a time), with the encoder in eval mode and no gradients; in
    `min(workers, len(tasks))` worker processes when that is above 0, else here, in order.

    `work` must be a module-level function (workers may be spawned) whose results pickle
    cheaply: NumPy arrays, not tensors that share storage with the encoder. Results are
    produced as the consumer asks for them, each worker at most `PREFETCH` results ahead."""
    workers = min(workers, len(tasks))
    if workers <= 0:
        with evaluating(encoder):
            for task in tasks:
                yield from work(encoder, task)
        return
    on_cpu = device_of(encoder).type == "cpu"
    # Forked workers share a CPU encoder; a model on a GPU is copied to the CPU for spawned ones.
    shared = encoder if on_cpu else copy.deepcopy(encoder).cpu()
    loader = torch.utils.data.DataLoader(
        _Tasks(shared, tasks, work),
        batch_size=None,
        shuffle=False,
        num_workers=workers,
        collate_fn=_identity,
        worker_init_fn=functools.partial(_start_worker, os.getpid()),
        prefetch_factor=PREFETCH,
        multiprocessing_context=None if on_cpu else "spawn",
    )
    yield from loader
