"""An HDF5 cache of one encoder's `featurize` outputs, keyed by item id and `feature_key()`.

One file per modality and feature key (`features-<modality>-<key>.h5`). Features of any shape
are stored flattened in one growing dataset, with each row's offset and shape:

    ids           (N,)            str     item id
    fingerprints  (N,)            str     source identity: file size and mtime, or text hash
    offsets       (N,)            int64   start of the row in `data`
    shapes        (N, ndim)       int64   the feature's shape
    checksums     (N,)            uint32  CRC-32 of the row's bytes
    data          (sum of sizes,) dtype   every feature, flattened

Root attributes: `format` (`ugaar-kit-features`), `format_version`, `modality`, `feature_key`,
`encoder`, `committed` (rows that are complete) and `writing` (set while a build runs).

Rows are appended in batches and `committed` is raised only after a batch's data is flushed,
so an interrupted build leaves a file whose committed rows are whole; the next build drops the
rest, verifies the committed rows' checksums when `writing` was left set, and computes only what
is missing. A file that cannot be opened or does not match is rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch import Tensor

from ugaar_kit.errors import CacheError as CacheError  # re-exported: its home is ugaar_kit.errors
from ugaar_kit.errors import InputError, PluginError, UgaarError
from ugaar_kit.features.encode import featurize_one
from ugaar_kit.features.pool import featurized
from ugaar_kit.interfaces.encoder import Encoder

FORMAT = "ugaar-kit-features"
FORMAT_VERSION = 1
COMMIT_ROWS = 64
"""Rows per commit: an interruption loses at most this many items' work."""
LOCK_WAIT = 3600.0
"""Seconds to wait for another process filling the same cache before giving up."""
LOCK_POLL = 2.0
CHUNK_BYTES = 256 * 1024
MIN_PARALLEL = 256
"""Fewer items than this are featurized in this process: starting workers costs seconds."""
PRELOAD_BYTES = 512 * 1024 * 1024
"""Caches up to this size are read into memory once; larger ones are read row by row."""


@dataclass(frozen=True)
class Source:
    """One item to featurize: its id, its input (a file path or a raw item such as lyrics text)
    and a fingerprint that changes when that input changes."""

    id: str
    input: Any
    fingerprint: str


def fingerprint(value: Any) -> str:
    """`file:<size>:<mtime_ns>` for a path, `text:<sha1>` for anything else (by its repr)."""
    if isinstance(value, Path):
        try:
            st = value.stat()
        except OSError:
            return "file:missing"
        return f"file:{st.st_size}:{st.st_mtime_ns}"
    text = value if isinstance(value, str) else repr(value)
    return "text:" + hashlib.sha1(text.encode("utf-8")).hexdigest()


def sources(items: Sequence[Any], modality: str) -> list[Source]:
    """Sources of one modality for dataset items (`ugaar_kit.interfaces.dataset.Item`)."""
    out = []
    for it in items:
        value = it.get(modality)
        out.append(Source(it.id, value, fingerprint(value)))
    return out


def cache_path(folder: Path, modality: str, key: str) -> Path:
    """`folder/features-<modality>-<key>.h5`, with anything but letters, digits, `_`, `.` and
    `-` replaced, so a plugin's key cannot point outside `folder`."""

    def safe(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]", "_", text).strip(".") or "_"

    return Path(folder) / f"features-{safe(modality)}-{safe(key)}.h5"


def _featurize_chunk(encoder: Encoder, chunk: list[tuple[str, Any]]) -> list[tuple[str, np.ndarray | UgaarError]]:
    """(id, features as an array) per item, or (id, the error) for an input it cannot use."""
    out: list[tuple[str, np.ndarray | UgaarError]] = []
    for item_id, value in chunk:
        try:
            out.append((item_id, featurize_one(encoder, value).detach().cpu().numpy()))
        except UgaarError as exc:
            out.append((item_id, exc))
    return out


class FeatureCache:
    """One HDF5 file of features of one encoder configuration (see the module doc for layout)."""

    def __init__(self, path: Path, modality: str, key: str, encoder: str = "") -> None:
        self.path = Path(path)
        self.modality = modality
        self.key = key
        self.encoder = encoder
        self.rows: dict[str, tuple[int, str]] = {}
        """item id -> (row, fingerprint) of its newest committed row."""
        self.on_wait: Callable[[str], None] | None = None
        """Told once when another process holds the file and this one waits for it."""
        self.notes: list[str] = []
        self._offsets: np.ndarray = np.zeros(0, np.int64)
        self._shapes: np.ndarray = np.zeros((0, 0), np.int64)
        self._data: np.ndarray | None = None
        self._file: h5py.File | None = None

    # -- opening and checking -------------------------------------------------------------
    def _open_append(self) -> h5py.File:
        """Open for appending; while another process holds the file (filling it for a run on the
        same data), wait for it, saying so once through `on_wait`, up to `LOCK_WAIT` seconds."""
        waited = 0.0
        while True:
            try:
                return h5py.File(self.path, "a")
            except OSError as exc:
                if "unable to lock file" not in str(exc).lower():
                    raise
                if waited >= LOCK_WAIT:
                    raise InputError(
                        self.path, f"feature cache is still in use by another process after {LOCK_WAIT:.0f} s"
                    ) from None
                if waited == 0.0 and self.on_wait is not None:
                    self.on_wait(f"{self.path.name}: another process is filling this feature cache; waiting for it")
                time.sleep(LOCK_POLL)
                waited += LOCK_POLL

    def _open_write(self) -> h5py.File:
        """Open (or create) the file for appending, dropping uncommitted rows and, after an
        interrupted build, rows whose checksum fails. A damaged or foreign file is replaced."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            try:
                fh = self._open_append()
            except OSError as exc:
                self.notes.append(f"{self.path.name}: unreadable ({exc.__class__.__name__}); rebuilding it")
                self.path.unlink()
            else:
                try:
                    self._check(fh, repair=True)
                    return fh
                except CacheError as exc:
                    fh.close()
                    self.notes.append(f"{self.path.name}: {exc}; rebuilding it")
                    self.path.unlink()
        fh = h5py.File(self.path, "w")
        fh.attrs.update(
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "modality": self.modality,
                "feature_key": self.key,
                "encoder": self.encoder,
                "committed": 0,
                "writing": 0,
            }
        )
        return fh

    def _check(self, fh: h5py.File, repair: bool) -> None:
        """Validate `fh` against this cache's identity and load its index of committed rows."""
        attrs = fh.attrs
        if attrs.get("format") != FORMAT:
            raise CacheError("not a ugaar-kit feature cache")
        if int(attrs.get("format_version", -1)) != FORMAT_VERSION:
            raise CacheError(f"format version {attrs.get('format_version')} is not {FORMAT_VERSION}")
        if attrs.get("feature_key") != self.key or attrs.get("modality") != self.modality:
            raise CacheError("written for other features")
        n = int(attrs.get("committed", 0))
        if n == 0 or "ids" not in fh:
            self.rows, self._offsets, self._shapes = {}, np.zeros(0, np.int64), np.zeros((0, 0), np.int64)
            if repair and "ids" in fh:
                self._truncate(fh, 0, 0)
            return
        names = ("ids", "fingerprints", "offsets", "shapes", "checksums", "data")
        if any(k not in fh for k in names):
            raise CacheError("datasets are missing")
        if any(len(fh[k]) < n for k in names[:5]):
            raise CacheError(f"fewer rows than the {n} committed")
        offsets = fh["offsets"][:n]
        shapes = fh["shapes"][:n]
        sizes = shapes.prod(axis=1) if shapes.shape[1] else np.ones(n, np.int64)
        ends = offsets + sizes
        if (offsets < 0).any() or (shapes < 0).any() or int(ends.max()) > len(fh["data"]):
            raise CacheError("row offsets point past the data")
        if repair and bool(attrs.get("writing", 0)):
            n = self._verify(fh, offsets, sizes, n)
            offsets, shapes, ends = offsets[:n], shapes[:n], ends[:n]
        end = int(ends.max()) if n else 0
        if repair:
            self._truncate(fh, n, end)
        ids = fh["ids"].asstr()[:n]
        fps = fh["fingerprints"].asstr()[:n]
        self.rows = {str(i): (r, str(f)) for r, (i, f) in enumerate(zip(ids, fps))}
        self._offsets, self._shapes = offsets, shapes

    def _verify(self, fh: h5py.File, offsets: np.ndarray, sizes: np.ndarray, n: int) -> int:
        """Rows up to the first whose checksum fails (a build was interrupted: trust nothing)."""
        sums = fh["checksums"][:n]
        data = fh["data"]
        for r in range(n):
            row = np.ascontiguousarray(data[int(offsets[r]) : int(offsets[r] + sizes[r])])
            if zlib.crc32(row.tobytes()) != int(sums[r]):
                self.notes.append(f"{self.path.name}: row {r} is damaged; recomputing from there")
                return r
        return n

    def _truncate(self, fh: h5py.File, n: int, end: int) -> None:
        for k in ("ids", "fingerprints", "offsets", "shapes", "checksums"):
            if k in fh and len(fh[k]) != n:
                fh[k].resize(n, axis=0)
        if "data" in fh and len(fh["data"]) != end:
            fh["data"].resize((end,))
        fh.attrs["committed"] = n

    def open_read(self) -> FeatureCache:
        """Open for reading (after `ensure`); small caches are loaded into memory at once."""
        try:
            fh = h5py.File(self.path, "r")
        except OSError as exc:
            raise InputError(self.path, f"cannot open feature cache ({exc})") from None
        try:
            self._check(fh, repair=False)
        except CacheError as exc:
            fh.close()
            raise InputError(self.path, str(exc)) from None
        if "data" in fh and fh["data"].size * fh["data"].dtype.itemsize <= PRELOAD_BYTES:
            self._data = fh["data"][:]
            fh.close()
        else:
            self._file = fh
        return self

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    # -- building -------------------------------------------------------------------------
    def missing(self, srcs: Sequence[Source]) -> list[Source]:
        """Sources with no committed row of the same fingerprint."""
        return [s for s in srcs if self.rows.get(s.id, (0, None))[1] != s.fingerprint]

    def ensure(
        self,
        encoder: Encoder,
        srcs: Sequence[Source],
        workers: int = 0,
        progress: Callable[[int, int], None] | None = None,
        commit_rows: int = COMMIT_ROWS,
        min_parallel: int = MIN_PARALLEL,
    ) -> int:
        """Compute and store the features of every source not cached yet; returns how many.

        `workers` > 0 featurizes in that many processes (one torch thread each) when at least
        `min_parallel` items are missing; `progress`
        is called as `progress(done, total)` when the work is known and after each commit."""
        fh = self._open_write()
        try:
            todo = self.missing(srcs)
            if not todo:
                return 0
            fh.attrs["writing"] = 1
            fh.flush()
            done = 0
            if progress:
                progress(done, len(todo))
            pending: list[tuple[Source, np.ndarray]] = []
            by_id = {s.id: s for s in todo}
            for item_id, array in self._compute(encoder, todo, workers if len(todo) >= min_parallel else 0):
                pending.append((by_id[item_id], array))
                if len(pending) >= commit_rows:
                    self._append(fh, pending)
                    done += len(pending)
                    if progress:
                        progress(done, len(todo))
                    pending = []
            if pending:
                self._append(fh, pending)
                done += len(pending)
                if progress:
                    progress(done, len(todo))
            fh.attrs["writing"] = 0
            fh.flush()
            return len(todo)
        finally:
            fh.close()

    def _compute(self, encoder: Encoder, todo: Sequence[Source], workers: int) -> Iterator[tuple[str, np.ndarray]]:
        size = commit_chunk(len(todo), workers) if workers > 0 else 1  # here: item by item
        chunks = [[(s.id, s.input) for s in todo[i : i + size]] for i in range(0, len(todo), size)]
        for item_id, array in featurized(encoder, chunks, _featurize_chunk, workers):
            if isinstance(array, UgaarError):
                raise array
            yield item_id, array

    def _append(self, fh: h5py.File, rows: Sequence[tuple[Source, np.ndarray]]) -> None:
        """Append rows, flush them, then raise `committed`: a crash keeps whole rows only."""
        first = rows[0][1]
        if "data" not in fh:
            ndim = first.ndim
            itemsize = max(first.dtype.itemsize, 1)
            fh.create_dataset(
                "data", (0,), dtype=first.dtype, maxshape=(None,), chunks=(max(1024, CHUNK_BYTES // itemsize),)
            )
            strings = h5py.string_dtype()
            fh.create_dataset("ids", (0,), dtype=strings, maxshape=(None,), chunks=(1024,))
            fh.create_dataset("fingerprints", (0,), dtype=strings, maxshape=(None,), chunks=(1024,))
            fh.create_dataset("offsets", (0,), dtype=np.int64, maxshape=(None,), chunks=(1024,))
            fh.create_dataset("shapes", (0, ndim), dtype=np.int64, maxshape=(None, ndim), chunks=(1024, max(ndim, 1)))
            fh.create_dataset("checksums", (0,), dtype=np.uint32, maxshape=(None,), chunks=(1024,))
        data = fh["data"]
        ndim = fh["shapes"].shape[1]
        n = int(fh.attrs["committed"])
        start = len(data)
        flat, offsets, shapes, sums = [], [], [], []
        pos = start
        for src, arr in rows:
            if arr.ndim != ndim:
                raise PluginError(
                    f"encoder {self.encoder}: featurize gave a {arr.ndim}-d tensor for item '{src.id}' but {ndim}-d before"
                )
            row = np.ascontiguousarray(arr, dtype=data.dtype).reshape(-1)
            flat.append(row)
            offsets.append(pos)
            shapes.append(arr.shape)
            sums.append(zlib.crc32(row.tobytes()))
            pos += row.size
        data.resize((pos,))
        if pos > start:
            data[start:pos] = np.concatenate(flat)
        k = len(rows)
        for name, values in (
            ("ids", [s.id for s, _ in rows]),
            ("fingerprints", [s.fingerprint for s, _ in rows]),
            ("offsets", offsets),
            ("checksums", sums),
        ):
            fh[name].resize(n + k, axis=0)
            fh[name][n : n + k] = values
        fh["shapes"].resize(n + k, axis=0)
        fh["shapes"][n : n + k] = np.asarray(shapes, dtype=np.int64).reshape(k, ndim)
        fh.flush()
        fh.attrs["committed"] = n + k
        fh.flush()
        for r, (src, _) in enumerate(rows):
            self.rows[src.id] = (n + r, src.fingerprint)

    # -- reading --------------------------------------------------------------------------
    def shape(self, item_id: str) -> tuple[int, ...]:
        return tuple(int(x) for x in self._shapes[self.rows[item_id][0]])

    def length(self, item_id: str) -> int:
        """The last-axis length of an item's features (1 for scalars): what batching buckets by."""
        shape = self.shape(item_id)
        return shape[-1] if shape else 1

    def get(self, item_id: str) -> Tensor:
        """The cached features of one item, as the tensor `featurize` returned."""
        row = self.rows.get(item_id)
        if row is None:
            raise KeyError(f"item '{item_id}' is not in {self.path}")
        r = row[0]
        shape = tuple(int(x) for x in self._shapes[r])
        start = int(self._offsets[r])
        size = int(np.prod(shape)) if shape else 1
        if self._data is not None:
            flat = self._data[start : start + size]
        elif self._file is not None:
            flat = self._file["data"][start : start + size]
        else:
            raise RuntimeError("feature cache is not open for reading")
        return torch.from_numpy(np.array(flat).reshape(shape))

    def get_many(self, ids: Sequence[str]) -> list[Tensor]:
        return [self.get(i) for i in ids]


def commit_chunk(n: int, workers: int) -> int:
    """Items per worker task: small enough to spread the work, large enough to amortise."""
    return max(1, min(32, n // max(1, workers * 4)))


def default_workers() -> int:
    """One feature process per core, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))
