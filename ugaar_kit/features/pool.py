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
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import Any, TypeVar, cast

import torch

from ugaar_kit.features.encode import device_of, evaluating

T = TypeVar("T")
R = TypeVar("R")
M = TypeVar("M", bound=torch.nn.Module)
PREFETCH = 4
"""Results (or groups of results) each worker runs ahead of the consumer: bounds memory when the
consumer is slower."""


class _Tasks(torch.utils.data.IterableDataset):
    """The results of `work(encoder, task)` over this worker's share of the tasks, one at a time,
    or in lists of at least `group_rows` rows as `rows_of` counts them."""

    def __init__(
        self,
        encoder: torch.nn.Module,
        tasks: Sequence[Any],
        work: Callable[[Any, Any], Iterable[Any]],
        rows_of: Callable[[Any], int] | None = None,
        group_rows: int = 0,
    ) -> None:
        self.encoder = encoder
        self.tasks = tasks
        self.work = work
        self.rows_of = rows_of
        self.group_rows = group_rows

    def __iter__(self) -> Iterator[Any]:
        info = torch.utils.data.get_worker_info()
        mine = self.tasks if info is None else self.tasks[info.id :: info.num_workers]
        results = (r for task in mine for r in self._run(task))
        if self.rows_of is None:
            yield from results
            return
        group: list[Any] = []
        rows = 0
        for r in results:
            group.append(r)
            rows += self.rows_of(r)
            if rows >= self.group_rows:
                yield group
                group, rows = [], 0
        if group:
            yield group

    def _run(self, task: Any) -> Iterator[Any]:
        with torch.no_grad():
            yield from self.work(self.encoder, task)


_DONE = object()


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
    encoder: M,
    tasks: Sequence[T],
    work: Callable[[M, T], Iterable[R]],
    workers: int = 0,
    *,
    rows_of: Callable[[R], int] | None = None,
    group_rows: int = 0,
) -> Generator[R, None, None]:
    """The results of `work(encoder, task)` for every task (an iterable each: a generator gives
    its results one at a time), with the encoder (an `Encoder`, or a `torch.nn.ModuleDict` of
    them that `work` picks from) in eval mode and no gradients; in
    `min(workers, len(tasks))` worker processes when that is above 0, else here, in order.

    `work` must be a module-level function (workers may be spawned) whose results pickle
    cheaply: NumPy arrays, not tensors that share storage with the encoder. Results are
    produced as the consumer asks for them, each worker at most `PREFETCH` results ahead; with
    `rows_of`, a worker hands its results on in groups of at least `group_rows` rows (as
    `rows_of` counts them), so it runs up to `PREFETCH` groups ahead: a consumer that encodes
    rows a few batches at a time then finds the next batches' rows ready, where `PREFETCH`
    single small results left the workers idle while it encoded."""
    workers = min(workers, len(tasks))
    if workers <= 0:
        for task in tasks:
            results = iter(work(encoder, task))
            while True:
                # eval mode and no gradients while a result is made, not across the `yield`: a
                # context held open there leaks into the consumer, and when the consumer drops
                # this generator unfinished (an error), closing it later turned gradients off
                # for whatever the process did next
                with evaluating(encoder):
                    result = next(results, _DONE)
                if result is _DONE:
                    break
                yield cast(R, result)
        return
    on_cpu = device_of(encoder).type == "cpu"
    # Forked workers share a CPU encoder; a model on a GPU is copied to the CPU for spawned ones.
    shared = encoder if on_cpu else copy.deepcopy(encoder).cpu()
    loader = torch.utils.data.DataLoader(
        _Tasks(shared, tasks, work, rows_of, group_rows),
        batch_size=None,
        shuffle=False,
        num_workers=workers,
        collate_fn=_identity,
        worker_init_fn=functools.partial(_start_worker, os.getpid()),
        prefetch_factor=PREFETCH,
        multiprocessing_context=None if on_cpu else "spawn",
    )
    if rows_of is None:
        yield from loader
        return
    for group in loader:
        yield from group
