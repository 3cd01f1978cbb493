"""The tables inside a store: creating a modality group, appending rows, copying rows, the
error table. The writer, the merger and the reader share these so the layout lives in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from ugaar_kit.store.exact import normalize_rows
from ugaar_kit.store.format import COLUMNS, ERRORS, NO_LINE, STR, UNIT, check_modality_name

COPY_ROWS = 65536
"""Rows copied at a time when a store is rebuilt: bounded memory whatever the store's size."""

STRING_CHUNK = 4096


def chunk_rows(dim: int) -> int:
    """Rows per chunk of `embeddings`: about 512 KiB (h5py advice: chunks of 10 KiB to 1 MiB)."""
    return int(min(4096, max(64, (512 * 1024) // (4 * max(dim, 1)))))


@dataclass
class FileRows:
    """The rows of one embedded file: ids, windows/lines and `(n, D)` float32 embeddings."""

    source: str
    size: int
    mtime: float
    ids: list[str]
    embeddings: np.ndarray
    start: list[float] = field(default_factory=list)
    end: list[float] = field(default_factory=list)
    line: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def columns(self) -> dict[str, np.ndarray]:
        """The per-row columns as arrays (NaN start/end and line 0 where not given)."""
        n = len(self.ids)
        nan = [float("nan")] * n
        return {
            "ids": np.array(self.ids, dtype=object),
            "source": np.array([self.source] * n, dtype=object),
            "size": np.full(n, self.size, dtype=np.int64),
            "mtime": np.full(n, self.mtime, dtype=np.float64),
            "start": np.asarray(self.start or nan, dtype=np.float64),
            "end": np.asarray(self.end or nan, dtype=np.float64),
            "line": np.asarray(self.line or [NO_LINE] * n, dtype=np.int32),
        }


def create_modality(f: h5py.File, name: str, dim: int) -> h5py.Group:
    """An empty modality group: resizable columns and `(0, dim)` embeddings."""
    check_modality_name(name)
    g = f.create_group(name)
    g.attrs["dim"] = int(dim)
    g.create_dataset("embeddings", shape=(0, dim), maxshape=(None, dim), dtype="float32", chunks=(chunk_rows(dim), dim))
    for col, dtype in COLUMNS.items():
        g.create_dataset(col, shape=(0,), maxshape=(None,), dtype=dtype, chunks=(STRING_CHUNK,))
    return g


def modality_group(f: h5py.File, name: str, dim: int) -> h5py.Group:
    """The group of `name`, created when absent; ValueError when its width is not `dim`."""
    if name in f:
        g = f[name]
        have = int(g.attrs["dim"])
        if have != dim:
            raise ValueError(f"{name} embeddings are {have} wide in the store, {dim} here")
        return g
    return create_modality(f, name, dim)


def append(group: h5py.Group, columns: Mapping[str, np.ndarray], embeddings: np.ndarray) -> None:
    """Append rows: `columns` holds every name of `COLUMNS` as `(n,)`, `embeddings` is `(n, D)`."""
    n = int(embeddings.shape[0])
    if n == 0:
        return
    emb = group["embeddings"]
    start = int(emb.shape[0])
    for col in COLUMNS:
        ds = group[col]
        ds.resize((start + n,))
        ds[start:] = columns[col]
    emb.resize((start + n, emb.shape[1]))
    emb[start:] = np.asarray(embeddings, dtype=np.float32)


def append_files(group: h5py.Group, files: Sequence[FileRows]) -> None:
    """Append the rows of several files at once."""
    if not files:
        return
    cols = [f.columns() for f in files]
    joined = {c: np.concatenate([x[c] for x in cols]) for c in COLUMNS}
    append(group, joined, np.concatenate([f.embeddings for f in files]).astype(np.float32, copy=False))


def read_columns(group: h5py.Group, start: int = 0, stop: int | None = None) -> dict[str, np.ndarray]:
    """Rows `start:stop` of every column (strings as object arrays of `str`)."""
    out: dict[str, np.ndarray] = {}
    for col, dtype in COLUMNS.items():
        ds = group[col]
        out[col] = ds.asstr()[start:stop] if dtype is STR else ds[start:stop]
    return out


def copy_rows(src: h5py.Group, dst: h5py.Group, keep: np.ndarray | None = None) -> int:
    """Append the rows of `src` (where `keep` `(N,)` is True, all when None) to `dst`, in blocks.
    Returns the number of rows copied."""
    n = int(src["embeddings"].shape[0])
    copied = 0
    for a in range(0, n, COPY_ROWS):
        b = min(n, a + COPY_ROWS)
        cols = read_columns(src, a, b)
        emb = src["embeddings"][a:b]
        if keep is not None:
            mask = keep[a:b]
            if not mask.any():
                continue
            cols = {c: v[mask] for c, v in cols.items()}
            emb = emb[mask]
        append(dst, cols, emb)
        copied += int(emb.shape[0])
    return copied


def write_unit(group: h5py.Group, revision: int) -> None:
    """`unit`: the group's embeddings scaled to unit length, float32, stored contiguous so a
    reader can memory-map it (`Store.unit`); written in blocks, tagged with the store revision it
    belongs to. Replaces an older one (callers write into a fresh file, so nothing is left behind)."""
    if UNIT in group:
        del group[UNIT]
    emb = group["embeddings"]
    n, dim = (int(x) for x in emb.shape)
    if n == 0:
        return
    ds = group.create_dataset(UNIT, shape=(n, dim), dtype="float32")  # no chunks: contiguous
    for a in range(0, n, COPY_ROWS):
        b = min(n, a + COPY_ROWS)
        ds[a:b] = normalize_rows(emb[a:b])
    ds.attrs["revision"] = int(revision)


def sources(group: h5py.Group) -> np.ndarray:
    """The `source` column `(N,)` as an object array of `str`."""
    return group["source"].asstr()[:]


def member(values: np.ndarray, keys: Iterable[str]) -> np.ndarray:
    """`(N,)` bool: which `values` (strings) are among `keys`. A set lookup: `np.isin` compares
    object arrays pairwise, which took 19 s for 200,000 x 60,000 paths."""
    wanted = set(keys)
    return np.fromiter((v in wanted for v in values.tolist()), dtype=bool, count=len(values))


def read_errors(f: h5py.File) -> list[tuple[str, str]]:
    """The error table: (path, message) in the order recorded."""
    if ERRORS not in f:
        return []
    g = f[ERRORS]
    return list(zip(g["path"].asstr()[:].tolist(), g["message"].asstr()[:].tolist()))


def write_errors(f: h5py.File, errors: Iterable[tuple[str, str]]) -> None:
    """Replace the error table."""
    rows = list(errors)
    if ERRORS in f:
        del f[ERRORS]
    g = f.create_group(ERRORS)
    for i, name in enumerate(("path", "message")):
        values = np.array([r[i] for r in rows], dtype=object)
        g.create_dataset(name, data=values, dtype=STR, maxshape=(None,), chunks=(STRING_CHUNK,))


def merge_errors(
    old: Iterable[tuple[str, str]], new: Iterable[tuple[str, str]], fixed: set[str]
) -> list[tuple[str, str]]:
    """`old` errors, then `new` ones; a later error of a path replaces an earlier one, and a
    path in `fixed` (embedded since) loses its error."""
    table: dict[str, str] = {}
    for path, message in [*old, *new]:
        table.pop(path, None)
        table[path] = message
    return [(p, m) for p, m in table.items() if p not in fixed]


def copy_attrs(src: Any, dst: Any, skip: Iterable[str] = ()) -> None:
    skipped = set(skip)
    for k, v in src.attrs.items():
        if k not in skipped:
            dst.attrs[k] = v
