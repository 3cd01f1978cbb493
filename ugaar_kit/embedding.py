"""The embed pipeline: files and folders -> rows (windows, lines) -> shared-space embeddings -> store.

    walk (walk.py) -> route by extension -> drop done files and other shards
      -> load, cut and featurize each file (DataLoader worker processes, one torch thread each)
      -> batches of rows -> encoder + objective.project (GPU when the run is on one)
      -> journal -> store (store/writer.py: crash-safe, resumable)

Rows:
- audio (an encoder whose raw items are 1-D waveforms and which tells their rate through a
  `sample_rate` attribute or option) is cut into windows of `window` seconds every `hop`
  seconds; the last window ends at the end of the recording, so it may be shorter (never
  shorter than `window - hop`). A recording no longer than one window is one row. `window=0`
  embeds whole files. Window ids are `source#t=START-END` (seconds, at most 3 decimals).
- lyrics (`.txt`, UTF-8) are embedded line by line, each line normalized with
  `normalize_lyrics`; blank lines are skipped but counted. Line ids are `source#L12`
  (1-based); a file with a single non-blank line is one row with id `source`.
- anything else (sheet images, a plugin's modality) is one row per file, via `load_item`.

Works with any run object with `.encoders` (modality -> Encoder), `.objective` (`project`),
`.run_id`, `.modalities` and a config (`.state["config"]` or `.config`): `ugaar_kit.Run`.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import envvars
from .errors import InputError, OptionError
from .lyrics_text import normalize_lyrics
from .media import read_text
from .store.tables import FileRows
from .store.writer import StoreWriter
from .walk import Found, Rejected, Walker

DEFAULT_WINDOW = 5.0
"""Seconds of audio per row when neither the command nor the run says (FINDINGS: the median
training passage lasts 4.75 s)."""
DEFAULT_HOP = 2.5
PAUSE_ENV = envvars.EMBED_PAUSE
"""Seconds to sleep after each committed batch: lets tests kill a run in the middle."""
LYRICS_MAX_BYTES = 16 << 20
FALLBACK_EXTENSIONS: dict[str, tuple[str, ...]] = {"lyrics": (".txt",)}
"""Extensions of a modality whose encoder lists none."""


@dataclass(frozen=True)
class EmbedSettings:
    """How `embed_paths` cuts, batches and resumes (None: from the run, else the defaults)."""

    window: float | None = None
    hop: float | None = None
    batch_size: int = 64
    workers: int = 0
    shard: tuple[int, int] | None = None
    refresh: bool = False
    strict: bool = False
    modality: str | None = None
    fold_rows: int | None = None


@dataclass
class EmbedSummary:
    """What an embed did; `exit_code` is 0 when nothing was skipped, else 1."""

    window: float = DEFAULT_WINDOW
    hop: float = DEFAULT_HOP
    files: int = 0
    rows: int = 0
    already: int = 0
    refreshed: int = 0
    changed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    ignored: int = 0
    other_shards: int = 0
    audio_seconds: float = 0.0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.skipped else 0


# -- settings ---------------------------------------------------------------------------------
def parse_shard(text: str) -> tuple[int, int]:
    """`"K/N"` -> (K, N) with 1 <= K <= N."""
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise OptionError(f"--shard {text!r}: expected K/N, e.g. 1/4") from None
    if not 1 <= k <= n:
        raise OptionError(f"--shard {text!r}: K must be between 1 and N")
    return k, n


def shard_of(source: str, n: int) -> int:
    """The shard (1..n) of a file: a hash of its source path, the same on every machine."""
    digest = hashlib.sha1(source.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % n + 1


def window_defaults(run: Any) -> tuple[float, float]:
    """(window, hop) in seconds: `run.json`'s `embed` table when the run records one, else
    5 s and 2.5 s."""
    try:
        info = getattr(run, "info", None)
    except InputError:
        info = None
    table = info.get("embed") if isinstance(info, Mapping) else None
    if isinstance(table, Mapping) and table.get("window") is not None:
        window = float(table["window"])
        return window, float(table.get("hop") or window / 2)
    return DEFAULT_WINDOW, DEFAULT_HOP


def resolve_window(run: Any, window: float | None, hop: float | None) -> tuple[float, float]:
    """The window and hop to use: given values, else the run's, else the defaults; a window
    given without a hop hops by half of it."""
    if window is None:
        w, h = window_defaults(run)
        window, hop = w, hop if hop is not None else h
    elif hop is None:
        hop = window / 2 if window > 0 else DEFAULT_HOP
    if window < 0:
        raise OptionError(f"--window {window}: must be at least 0 (0 embeds whole files)")
    if hop <= 0:
        raise OptionError(f"--hop {hop}: must be more than 0")
    return float(window), float(hop)


def extension_routes(run: Any) -> dict[str, str]:
    """Suffix (lower case, with the dot) -> modality, from the run's encoders' `extensions`."""
    routes: dict[str, str] = {}
    for m in run.modalities:
        enc = run.encoders[m]
        for ext in tuple(getattr(enc, "extensions", ()) or FALLBACK_EXTENSIONS.get(m, ())):
            routes.setdefault(ext.lower(), m)
    return routes


def run_config_json(run: Any) -> str:
    """The run's config as JSON, for the store's `config` attribute."""
    state = getattr(run, "state", None)
    config = state.get("config") if isinstance(state, Mapping) else None
    if config is None:
        config = getattr(run, "config", {})
        from .training.config import RunConfig, to_toml_dict

        if isinstance(config, RunConfig):
            config = to_toml_dict(config)
        elif dataclasses.is_dataclass(config) and not isinstance(config, type):
            config = dataclasses.asdict(config)
    return json.dumps(config, sort_keys=True, default=str)


def sample_rate_of(encoder: Any) -> int | None:
    """The rate of an encoder's raw waveforms: its `sample_rate` attribute or option."""
    for owner in (encoder, getattr(encoder, "options", None)):
        rate = getattr(owner, "sample_rate", None)
        if isinstance(rate, (int, float)) and not isinstance(rate, bool) and rate > 0:
            return int(rate)
    return None


# -- one file to rows -------------------------------------------------------------------------
@dataclass
class Prepared:
    """One file's rows before the encoder: ids, times or lines, features; or an error."""

    index: int
    ids: list[str] = field(default_factory=list)
    start: list[float] = field(default_factory=list)
    end: list[float] = field(default_factory=list)
    line: list[int] = field(default_factory=list)
    features: list[Any] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


def cut_windows(length: int, rate: int, window: float, hop: float) -> list[tuple[int, int]]:
    """Sample ranges `[a, b)` of the windows over `length` samples (see the module doc)."""
    if length <= 0:
        return []
    win = max(1, round(window * rate))
    step = max(1, round(hop * rate))
    if window <= 0 or length <= win:
        return [(0, length)]
    out = []
    a = 0
    while True:
        b = min(a + win, length)
        out.append((a, b))
        if b >= length:
            return out
        a += step


def seconds_label(t: float) -> str:
    """`12.5`, `175`, `0.333`: seconds with at most 3 decimals, for ids."""
    return f"{t:.3f}".rstrip("0").rstrip(".")


def read_lyrics_lines(path: Path) -> list[tuple[int, str]]:
    """(1-based line number, normalized text) of every non-blank line of a UTF-8 text file."""
    lines = [(n, normalize_lyrics(line)) for n, line in enumerate(read_text(path, LYRICS_MAX_BYTES).splitlines(), 1)]
    return [(n, t) for n, t in lines if t]


def _portable(feature: Any) -> Any:
    """A feature as a NumPy array when possible (cheap to send from a worker process)."""
    if isinstance(feature, torch.Tensor):
        try:
            return feature.detach().cpu().numpy()
        except (TypeError, RuntimeError):
            return feature.detach().cpu()
    return feature


def prepare(encoder: Any, modality: str, found: Found, window: float, hop: float, index: int = 0) -> Prepared:
    """Read, cut and featurize one file; a bad file gives a `Prepared` with its `error`."""
    out = Prepared(index)
    try:
        raws: list[Any]
        if modality == "lyrics":
            lines = read_lyrics_lines(found.path)
            if not lines:
                raise InputError(found.path, "no lyrics in the file (empty or no words)")
            out.ids = [found.source] if len(lines) == 1 else [f"{found.source}#L{n}" for n, _ in lines]
            out.line = [n for n, _ in lines]
            raws = [t for _, t in lines]
        else:
            raw = encoder.load_item(found.path)
            rate = sample_rate_of(encoder)
            if rate and getattr(raw, "ndim", None) == 1:
                length = int(raw.shape[0])
                pieces = cut_windows(length, rate, window, hop)
                if not pieces:
                    raise InputError(found.path, "no audio samples (empty recording)")
                out.seconds = length / rate
                out.start = [a / rate for a, _ in pieces]
                out.end = [b / rate for _, b in pieces]
                if len(pieces) == 1:
                    out.ids = [found.source]
                    raws = [raw]
                else:
                    out.ids = [
                        f"{found.source}#t={seconds_label(s)}-{seconds_label(e)}" for s, e in zip(out.start, out.end)
                    ]
                    raws = [raw[a:b] for a, b in pieces]
            else:
                out.ids = [found.source]
                raws = [raw]
        with torch.no_grad():
            out.features = [_portable(encoder.featurize(r)) for r in raws]
    except InputError as exc:
        return Prepared(index, error=exc.problem)
    except Exception as exc:  # noqa: BLE001 - whatever a file makes a reader raise, it is that file's problem
        return Prepared(index, error=f"cannot read ({type(exc).__name__}: {exc})")
    return out


class FileItems(torch.utils.data.Dataset):
    """The files of one modality as a map-style dataset of `Prepared` (for DataLoader workers)."""

    def __init__(self, files: Sequence[Found], encoder: Any, modality: str, window: float, hop: float) -> None:
        self.files = list(files)
        self.encoder = encoder
        self.modality = modality
        self.window = window
        self.hop = hop

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> Prepared:
        return prepare(self.encoder, self.modality, self.files[i], self.window, self.hop, i)


def _identity(x: Any) -> Any:
    return x


def _start_worker(parent: int, _: int) -> None:
    """A loader worker: one torch thread, and it ends with its parent `parent` (killed or not)."""
    torch.set_num_threads(1)
    die_with_parent(parent)


def die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when its parent dies (`PR_SET_PDEATHSIG`), so a loader
    worker does not outlive a killed `embed` holding its files; elsewhere nothing happens."""
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


# -- the pipeline -----------------------------------------------------------------------------
def embed_paths(
    run: Any,
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
    )
    with writer:
        summary.notes += writer.notes
        todo = _plan(walker, writer, settings, routes, summary)
        summary.ignored = walker.ignored
        total = sum(len(v) for v in todo.values())
        progress = _Progress(total, on_progress)
        for modality in run.modalities:
            if todo.get(modality):
                _ModalityJob(run, modality, todo[modality], writer, settings, window, hop, summary, progress).run()
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
    """A file whose rows are being embedded."""

    found: Found
    prepared: Prepared
    embeddings: np.ndarray | None = None
    filled: int = 0

    def rows(self) -> FileRows:
        assert self.embeddings is not None
        p = self.prepared
        return FileRows(
            self.found.source, self.found.size, self.found.mtime, p.ids, self.embeddings, p.start, p.end, p.line
        )


class _ModalityJob:
    """Embed the files of one modality: prepare in workers, batch rows, encode, commit."""

    def __init__(
        self,
        run: Any,
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
        self.pause = envvars.seconds(PAUSE_ENV)

    def _prepared(self) -> Iterator[Prepared]:
        workers = min(self.settings.workers, len(self.files))
        if workers <= 0:
            dataset = FileItems(self.files, self.encoder, self.modality, self.window, self.hop)
            return (dataset[i] for i in range(len(dataset)))
        on_cpu = self.device.type == "cpu"
        # Workers featurize on the CPU; a model on a GPU is copied for them and started fresh.
        encoder = self.encoder if on_cpu else copy.deepcopy(self.encoder).cpu()
        dataset = FileItems(self.files, encoder, self.modality, self.window, self.hop)
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_size=None,
            shuffle=False,
            num_workers=workers,
            collate_fn=_identity,
            worker_init_fn=functools.partial(_start_worker, os.getpid()),
            prefetch_factor=4,
            multiprocessing_context=None if on_cpu else "spawn",
        )
        return iter(loader)

    def run(self) -> None:
        was_training = self.encoder.training
        self.encoder.eval()
        try:
            for p in self._prepared():
                found = self.files[p.index]
                if p.error is not None:
                    self.progress.advance(1)
                    if self.settings.strict:
                        self._drain()
                    _skip(self.writer, self.summary, self.settings, found.source, p.error, found.path)
                    continue
                self.open[p.index] = _Open(found, p)
                self.summary.audio_seconds += p.seconds
                for r, feature in enumerate(p.features):
                    self.queue.append((p.index, r, feature))
                p.features = []
                while len(self.queue) >= self.settings.batch_size:
                    self._batch()
            self._drain()
        finally:
            self.encoder.train(was_training)

    def _drain(self) -> None:
        while self.queue:
            self._batch()

    def _batch(self) -> None:
        items = [self.queue.popleft() for _ in range(min(self.settings.batch_size, len(self.queue)))]
        feats = [torch.from_numpy(f) if isinstance(f, np.ndarray) else f for _, _, f in items]
        with torch.no_grad():
            batch = self.encoder.collate(feats).to(self.device)
            z = self.objective.project(self.modality, self.encoder(batch)).float().cpu().numpy()
        for (idx, r, _), row in zip(items, z):
            o = self.open[idx]
            if o.embeddings is None:
                o.embeddings = np.empty((len(o.prepared.ids), z.shape[1]), dtype=np.float32)
            o.embeddings[r] = row
            o.filled += 1
        ready = [i for i, o in self.open.items() if o.filled == len(o.prepared.ids)]
        if not ready:
            return
        files = [self.open.pop(i).rows() for i in ready]
        self.writer.add_files(self.modality, files)
        self.summary.files += len(files)
        self.summary.rows += sum(len(f) for f in files)
        self.progress.advance(len(files))
        if self.pause:
            time.sleep(self.pause)


# -- a query ----------------------------------------------------------------------------------
def embed_query(
    run: Any, path: str | Path | None = None, text: str | None = None, modality: str | None = None
) -> tuple[str, np.ndarray]:
    """(modality, `(D,)` shared-space embedding) of one query: a file, or lyrics `text`.

    The modality comes from the file's extension unless given; lyrics (a file's lines or
    `text`) are normalized with `normalize_lyrics` and embedded as one passage; an audio file
    is embedded whole (its encoder may cap the length)."""
    if (path is None) == (text is None):
        raise OptionError("give a query file or --text, not both")
    raw: Any
    if text is not None:
        modality = modality or "lyrics"
        raw = normalize_lyrics(text)
        if not raw:
            raise OptionError("--text has no words")
    else:
        path = Path(path)  # type: ignore[arg-type]
        if not path.is_file():
            raise InputError(path, "no such file" if not path.exists() else "not a file")
        if modality is None:
            routes = extension_routes(run)
            modality = routes.get(path.suffix.lower())
            if modality is None:
                known = ", ".join(sorted(routes)) or "none"
                raise InputError(
                    path, f"cannot tell the modality of '{path.suffix}' files (the run reads {known}); use --modality"
                )
        if modality == "lyrics":
            raw = " ".join(t for _, t in read_lyrics_lines(path))
            if not raw:
                raise InputError(path, "no lyrics in the file (empty or no words)")
    if modality not in run.encoders:
        raise OptionError(f"the run has no {modality} encoder (it has: {', '.join(run.modalities)})")
    encoder = run.encoders[modality]
    if path is not None and modality != "lyrics":
        raw = encoder.load_item(Path(path))
    param = next(iter(encoder.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            batch = encoder.collate([encoder.featurize(raw)]).to(device)
            z = run.objective.project(modality, encoder(batch)).float().cpu().numpy()
    finally:
        encoder.train(was_training)
    return modality, z[0]
