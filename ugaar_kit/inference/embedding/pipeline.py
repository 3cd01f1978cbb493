"""The embed pipeline: walk the inputs, route files by extension, drop done files and other
shards, prepare each file's rows (`files.py`), batch them through the encoder and
`objective.project`, and commit file by file to the store (crash-safe, resumable)."""

from __future__ import annotations

import functools
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ugaar_kit.data.walk import Found, Rejected, Walker
from ugaar_kit.errors import InputError, OptionError
from ugaar_kit.features.encode import evaluating, forward
from ugaar_kit.features.pool import featurized
from ugaar_kit.inference.embedding.files import Prepared, prepare
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
from ugaar_kit.store.tables import FileRows
from ugaar_kit.store.writer import StoreWriter

SORT_BATCHES = 8
"""Rows wait until this many batches are queued, then go to the encoder sorted by length,
longest first (freed activations then fit the next, shorter batch)."""
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
        for modality in run.modalities:
            if todo.get(modality):
                job = _ModalityJob(run, modality, todo[modality], writer, settings, window, hop, summary, progress)
                job.run(trim)
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
    """Embed the files of one modality: prepare in workers, batch rows, encode, commit."""

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
        self.queue: deque[tuple[int, int, Any]] = deque()
        self.finished: dict[int, FileRows | None] = {}
        """Files embedded (their rows) or skipped (None) but not committed yet: files are committed
        in their walk order, so the store is the same whatever the workers and the batch size."""
        self.next = 0
        """The first file not committed or skipped yet."""
        self.pause = envvars.seconds(PAUSE_ENV)
        self.trim: Callable[[], None] = lambda: None

    def _prepared(self) -> Iterator[Prepared]:
        work = functools.partial(prepare, window=self.window, hop=self.hop)
        return featurized(self.encoder, list(enumerate(self.files)), work, self.settings.workers)

    def run(self, trim: Callable[[], None] | None = None) -> None:
        """Embed and commit every file; `trim` is called after each batch (a `Trimmer`)."""
        self.trim = trim or self.trim
        with evaluating(self.encoder):
            for p in self._prepared():
                found = self.files[p.index]
                if p.error is not None:
                    self.progress.advance(1)
                    if p.index in self.open:  # a part of it was embedded: drop what was
                        del self.open[p.index]
                        self.queue = deque(q for q in self.queue if q[0] != p.index)
                    if self.settings.strict:
                        self._drain()
                    self.finished[p.index] = None
                    self._commit()
                    _skip(self.writer, self.summary, self.settings, found.source, p.error, found.path)
                    continue
                first = self.open.setdefault(p.index, _Open(found)).add(p)
                self.summary.audio_seconds += p.seconds
                for r, feature in enumerate(p.features):
                    self.queue.append((p.index, first + r, feature))
                p.features = []
                if len(self.queue) >= SORT_BATCHES * self.settings.batch_size:
                    self._sort_queue()
                    while len(self.queue) >= self.settings.batch_size:
                        self._batch()
                self._commit()
            self._drain()

    def _drain(self) -> None:
        self._sort_queue()
        while self.queue:
            self._batch()

    def _sort_queue(self) -> None:
        """Order the waiting rows by length, so a batch pads little (an encoder's work grows with
        its batch's longest row: mixed lengths cost the default audio encoder twice the work)."""
        self.queue = deque(sorted(self.queue, key=lambda q: -_length(q[2])))

    def _batch(self) -> None:
        items = [self.queue.popleft() for _ in range(min(self.settings.batch_size, len(self.queue)))]
        feats = [torch.from_numpy(f) if isinstance(f, np.ndarray) else f for _, _, f in items]
        project = functools.partial(self.objective.project, self.modality)
        z = forward(self.encoder, feats, self.device, project).cpu().numpy()
        for (idx, r, _), row in zip(items, z):
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
