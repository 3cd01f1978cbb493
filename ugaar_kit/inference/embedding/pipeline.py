"""The embed pipeline: walk the inputs, route files by extension, drop done files and other
shards, prepare each file's rows (`files.py`), batch them through the encoder and
`objective.project`, and commit file by file to the store (crash-safe, resumable)."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ugaar_kit.data.walk import Found, Rejected, Walker
from ugaar_kit.errors import InputError, OptionError
from ugaar_kit.features.encode import evaluating, forward
from ugaar_kit.features.pool import featurized
from ugaar_kit.inference.embedding.files import Prepared, prepare_routed
from ugaar_kit.inference.embedding.settings import (
    EmbedSettings,
    EmbedSummary,
    TrainedModel,
    extension_routes,
    resolve_window,
    run_config_json,
    shard_of,
)
from ugaar_kit.infra import envvars
from ugaar_kit.infra.memory import Trimmer
from ugaar_kit.interfaces.encoder import bucket_length
from ugaar_kit.store.tables import FileRows
from ugaar_kit.store.writer import StoreWriter

SORT_BATCHES = 8
"""Rows of a modality that may wait, in batches: once this many are queued, batches go to the
encoder until half as many wait, each the batch that pads least (`_ModalityJob.encode`). The
first batches go as soon as one is queued; the rows that may wait double up to this."""
PAUSE_ENV = envvars.EMBED_PAUSE
"""Seconds to sleep after each committed batch: lets tests kill a run in the middle."""


def embed_paths(
    run: TrainedModel,
    inputs: Sequence[str | Path],
    out: str | Path,
    settings: EmbedSettings = EmbedSettings(),
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> EmbedSummary:
    """Embed every file under `inputs` into the store `out` and return what was done.

    Resumes: files already in the store with the same size and mtime are skipped; changed
    ones are re-embedded with `settings.refresh`. `on_progress(done, total)` is called as
    files finish (for a progress bar). With `settings.strict` the first bad file raises
    `InputError` (rows committed until then are kept)."""
    t0 = time.perf_counter()
    if settings.modality is not None and settings.modality not in run.encoders:
        raise OptionError(
            f"--modality {settings.modality}: the run has no such encoder (it has: {', '.join(run.modalities)})"
        )
    if settings.batch_size < 1:
        raise OptionError("--batch-size must be at least 1")
    routes = extension_routes(run)
    window, hop = resolve_window(run, settings.window, settings.hop)
    summary = EmbedSummary(window=window, hop=hop)
    walker = Walker(
        inputs, (lambda _suffix: True) if settings.modality else (lambda suffix: suffix in routes), exclude=[out]
    )
    writer = StoreWriter(
        out,
        run_id=run.run_id,
        config_json=run_config_json(run),
        settings={"window": window, "hop": hop},
        fold_rows=settings.fold_rows,
        roots=walker.root_records(),
    )
    with writer:
        summary.notes += writer.notes
        todo = _plan(walker, writer, settings, routes, summary)
        summary.ignored = walker.ignored
        total = sum(len(v) for v in todo.values())
        progress = _Progress(total, on_progress)
        trim = Trimmer()  # freed memory back to the system: flat however many files
        jobs = {
            m: _ModalityJob(run, m, todo[m], writer, settings, window, hop, summary, progress, trim)
            for m in run.modalities
            if todo.get(m)
        }
        _run_jobs(run, jobs, settings, window, hop)
        notes_before = len(writer.notes)
    summary.notes += writer.notes[notes_before:]
    summary.seconds = time.perf_counter() - t0
    return summary


def _plan(
    walker: Iterable[Found | Rejected],
    writer: StoreWriter,
    settings: EmbedSettings,
    routes: Mapping[str, str],
    summary: EmbedSummary,
) -> dict[str, list[Found]]:
    """The files to embed by modality; skipped entries recorded (and raised when strict)."""
    done = writer.done_files()
    todo: dict[str, list[Found]] = {}
    seen: set[tuple[str, str]] = set()
    for entry in walker:
        if isinstance(entry, Rejected):
            _skip(writer, summary, settings, entry.source, entry.reason)
            continue
        modality = settings.modality or routes[entry.suffix]
        key = (modality, entry.source)
        if settings.shard is not None and shard_of(entry.source, settings.shard[1]) != settings.shard[0]:
            summary.other_shards += 1
            continue
        if key in seen:
            _skip(writer, summary, settings, entry.source, "the same id as an earlier input file")
            continue
        seen.add(key)
        prev = done.get(key)
        if prev is not None:
            if prev == (entry.size, entry.mtime):
                summary.already += 1
                continue
            if not settings.refresh:
                summary.changed.append(entry.source)
                continue
            summary.refreshed += 1
        todo.setdefault(modality, []).append(entry)
    return todo


def _run_jobs(
    run: TrainedModel,
    jobs: Mapping[str, _ModalityJob],
    settings: EmbedSettings,
    window: float,
    hop: float,
) -> None:
    """Prepare every file of every modality in one pool (`featurized`), each part to its
    modality's job, which encodes as rows wait (`_ModalityJob.take`); then encode what is left."""
    if not jobs:
        return
    encoders = torch.nn.ModuleDict({m: run.encoders[m] for m in jobs})
    tasks = _interleaved({m: job.files for m, job in jobs.items()}, max(1, settings.workers))
    work = functools.partial(prepare_routed, window=window, hop=hop)
    prepared = featurized(encoders, tasks, work, settings.workers, rows_of=_rows_of, group_rows=settings.batch_size)
    with evaluating(encoders), contextlib.closing(prepared):  # an error closes the loaders at once
        for p in prepared:
            if p.error is not None and settings.strict:  # keep what every modality has embedded
                for job in jobs.values():
                    job.drain()
            jobs[p.modality].take(p)
        for job in jobs.values():
            job.drain()


def _rows_of(part: Prepared) -> int:
    """A prepared part's rows (an error counts as one)."""
    return max(1, len(part.features))


def _least_padding(padded: Sequence[int], size: int) -> int:
    """Where, in padded lengths sorted longest first, the `size` consecutive rows start that pad
    least (the first's length over their mean); 0 when fewer than `size` remain."""
    if len(padded) <= size:
        return 0
    sums = np.cumsum([0, *padded])
    starts = np.arange(len(padded) - size + 1)
    first = np.asarray(padded[: len(starts)], dtype=np.float64)
    return int(np.argmin(first / (sums[starts + size] - sums[starts])))


def _interleaved(files: Mapping[str, Sequence[Found]], block: int) -> list[tuple[str, int, Found]]:
    """Every modality's files as (modality, index, found), the modalities mixed in proportion to
    their numbers of files, in runs of `block` (the number of worker processes: task `i` goes to
    worker `i % block`, so each worker gets its share of every modality). One modality after
    another left a core idle: the main process waited on the workers reading audio (decoding
    costs more than the audio encoder's forward pass), then the workers waited on the main
    process encoding sheet snippets (the other way round)."""
    runs: list[tuple[float, int, str, int]] = []
    for rank, (modality, found) in enumerate(files.items()):
        count = -(-len(found) // block)
        runs += [((k + 0.5) / count, rank, modality, k) for k in range(count)]
    out: list[tuple[str, int, Found]] = []
    for _, _, modality, k in sorted(runs):
        out += [(modality, i, files[modality][i]) for i in range(k * block, min(len(files[modality]), (k + 1) * block))]
    return out


def _skip(
    writer: StoreWriter,
    summary: EmbedSummary,
    settings: EmbedSettings,
    source: str,
    reason: str,
    path: Path | None = None,
) -> None:
    summary.skipped.append((source, reason))
    writer.add_errors([(source, reason)])
    if settings.strict:
        raise InputError(path or source, f"{reason} (--strict stops at the first bad file)")


def _length(feature: Any) -> int:
    """The length a batch pads to: a feature's last axis (1 for a scalar)."""
    shape = tuple(getattr(feature, "shape", ()))
    return int(shape[-1]) if shape else 1


class _Progress:
    def __init__(self, total: int, callback: Callable[[int, int], None] | None) -> None:
        self.total = total
        self.done = 0
        self.callback = callback
        if callback:
            callback(0, total)

    def advance(self, n: int) -> None:
        self.done += n
        if self.callback and n:
            self.callback(self.done, self.total)


@dataclass
class _Open:
    """A file whose rows are being embedded: its parts' rows so far, and whether the last part
    has come (then, once every row is embedded, the file is committed)."""

    found: Found
    ids: list[str] = field(default_factory=list)
    start: list[float] = field(default_factory=list)
    end: list[float] = field(default_factory=list)
    line: list[int] = field(default_factory=list)
    embeddings: list[np.ndarray | None] = field(default_factory=list)
    filled: int = 0
    complete: bool = False

    def add(self, part: Prepared) -> int:
        """Take a part's rows; the row number of its first."""
        first = len(self.ids)
        self.ids += part.ids
        self.start += part.start
        self.end += part.end
        self.line += part.line
        self.embeddings += [None] * len(part.ids)
        self.complete = part.last
        return first

    @property
    def done(self) -> bool:
        return self.complete and self.filled == len(self.ids)

    def rows(self) -> FileRows:
        emb = np.stack([e for e in self.embeddings if e is not None]).astype(np.float32, copy=False)
        return FileRows(
            self.found.source, self.found.size, self.found.mtime, self.ids, emb, self.start, self.end, self.line
        )


class _ModalityJob:
    """Embed the files of one modality: take their prepared parts, batch rows, encode, commit."""

    def __init__(
        self,
        run: TrainedModel,
        modality: str,
        files: list[Found],
        writer: StoreWriter,
        settings: EmbedSettings,
        window: float,
        hop: float,
        summary: EmbedSummary,
        progress: _Progress,
        trim: Callable[[], None],
    ) -> None:
        self.modality = modality
        self.files = files
        self.encoder = run.encoders[modality]
        self.objective = run.objective
        self.writer = writer
        self.settings = settings
        self.window, self.hop = window, hop
        self.summary = summary
        self.progress = progress
        param = next(iter(self.encoder.parameters()), None)
        self.device = param.device if param is not None else torch.device(getattr(run, "device", "cpu"))
        self.open: dict[int, _Open] = {}
        self.queue: list[tuple[int, int, Any, int]] = []
        """Rows waiting for the encoder: (file, row, feature, padded length)."""
        self.area = 0
        """The queued rows' padded lengths summed."""
        self.finished: dict[int, FileRows | None] = {}
        """Files embedded (their rows) or skipped (None) but not committed yet: files are committed
        in their walk order, so the store is the same whatever the workers and the batch size."""
        self.next = 0
        """The first file not committed or skipped yet."""
        self.pause = envvars.seconds(PAUSE_ENV)
        self.trim = trim
        """Called after each batch (a `Trimmer`)."""
        self.waiting = settings.batch_size
        """Queued rows that start encoding: one batch at first, doubling up to `SORT_BATCHES`."""
        self.budget: int | None = None
        """Rows times padded length a batch may hold (`encode`)."""

    def take(self, p: Prepared) -> None:
        """A prepared part of one of this job's files: its rows queued, or its error recorded;
        done files committed."""
        found = self.files[p.index]
        if p.error is not None:
            self.progress.advance(1)
            if p.index in self.open:  # a part of it was embedded: drop what was
                del self.open[p.index]
                self.queue = [q for q in self.queue if q[0] != p.index]
                self.area = sum(q[3] for q in self.queue)
            self.finished[p.index] = None
            self._commit()
            _skip(self.writer, self.summary, self.settings, found.source, p.error, found.path)
            return
        first = self.open.setdefault(p.index, _Open(found)).add(p)
        self.summary.audio_seconds += p.seconds
        for r, feature in enumerate(p.features):
            padded = bucket_length(_length(feature))
            self.queue.append((p.index, first + r, feature, padded))
            self.area += padded
        p.features = []
        if self._over(self.waiting):
            self.encode(keep=self.waiting // 2)
            self.waiting = min(2 * self.waiting, SORT_BATCHES * self.settings.batch_size)
        self._commit()

    def drain(self) -> None:
        """Encode and commit every queued row."""
        self.encode(keep=0)

    def encode(self, keep: int) -> None:
        """Encode batches of the queued rows until at most `keep` wait (the last batch of all may
        be short), each time the batch that pads least: of the rows sorted by length, the
        consecutive ones whose length padded (`bucket_length`) is nearest their mean.

        Encoders' work grows with the longest row of a batch, and the widest sheet snippets are
        three times the median: sorting each few batches alone cost the sheet `cnn` 1.4 to 1.7
        times the work of its rows, where rows of a rare length waiting for their like cost 1.12
        (1.08 sorting all 5,000 at once; rows times padded width, the 10,000 files of
        benchmarks/speed.py --only embed). A batch holds `batch_size` rows of the modality's
        usual length (the median of the first rows queued) and fewer of longer ones, so a page
        of wide snippets costs no more memory than a batch of the usual ones."""
        size = self.settings.batch_size
        self.queue.sort(key=lambda q: -q[3])
        if self.budget is None and self.queue:
            self.budget = size * self.queue[len(self.queue) // 2][3]
        budget = self.budget or size
        while self.queue and self._over(keep):
            at = _least_padding([q[3] for q in self.queue], size)
            n = min(size, max(1, budget // self.queue[at][3]))
            items = self.queue[at : at + n]
            del self.queue[at : at + n]
            self.area -= sum(q[3] for q in items)
            self._batch(items)

    def _over(self, rows: int) -> bool:
        """Whether more than `rows` rows wait, rows of the usual length (once known) counting one
        and longer ones more, so wide snippets waiting for their like hold no more memory."""
        if self.budget is None:
            return len(self.queue) >= max(rows, 1)
        return self.area * self.settings.batch_size > rows * self.budget

    def _batch(self, items: list[tuple[int, int, Any, int]]) -> None:
        feats = [torch.from_numpy(f) if isinstance(f, np.ndarray) else f for _, _, f, _ in items]
        project = functools.partial(self.objective.project, self.modality)
        z = forward(self.encoder, feats, self.device, project).cpu().numpy()
        for (idx, r, _, _), row in zip(items, z):
            o = self.open[idx]
            o.embeddings[r] = row
            o.filled += 1
        self.trim()
        self._commit()

    def _commit(self) -> None:
        """Commit, in walk order, the files whose every row is embedded."""
        for i in [i for i, o in self.open.items() if o.done]:
            self.finished[i] = self.open.pop(i).rows()
        files = []
        while self.next in self.finished:
            rows = self.finished.pop(self.next)
            if rows is not None:
                files.append(rows)
            self.next += 1
        if not files:
            return
        self.writer.add_files(self.modality, files)
        self.summary.files += len(files)
        self.summary.rows += sum(len(f) for f in files)
        self.progress.advance(len(files))
        if self.pause:
            time.sleep(self.pause)
