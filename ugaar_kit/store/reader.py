"""`ugaar_kit.Store`: an embedding store in Python, for notebooks, `search` and `eval`.

    with Store("emb.h5") as store:
        store.modalities                  # ('audio', 'lyrics')
        z = store.embeddings("audio")     # h5py dataset (N, D): slicing reads only those chunks
        u = store.unit("audio")           # the same rows at unit length, memory-mapped (or None)
        store.ids("audio")[:3]            # ['songs/a.wav#t=0-5', ...]
        store.metadata("audio")           # columns: ids, source, size, mtime, start, end, line
        store.errors                      # [(path, message), ...] of the skipped files
        store.roots                       # [{'label': '', 'path': '/data/songs'}]: where sources are

The file is opened read-only; a writer replaces it by atomic rename, so an open `Store` keeps
reading the version it opened.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ugaar_kit.errors import InputError
from ugaar_kit.store import tables
from ugaar_kit.store.exact import normalize_rows
from ugaar_kit.store.format import COLUMNS, ROOTS, UNIT, journal_dir, json_attr, modality_names, open_store, text_attr
from ugaar_kit.store.journal import SUFFIX


def pending_journal(store: Path) -> bool:
    """True when the store's journal folder holds records of an unfinished `embed`."""
    folder = journal_dir(store)
    return folder.is_dir() and any(folder.glob(f"*{SUFFIX}"))


class Store:
    """A read-only embedding store (see `ugaar_kit.store.format` for the layout)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.file: h5py.File = open_store(self.path)
        self._units: dict[str, np.ndarray | None] = {}

    # -- header --------------------------------------------------------------------------------
    def attr(self, name: str, default: Any = None) -> Any:
        value = self.file.attrs.get(name, default)
        return text_attr(value) if isinstance(value, (bytes, str)) else value

    @property
    def run_id(self) -> str:
        """The id of the run whose model made these embeddings."""
        return str(self.attr("run_id", ""))

    @property
    def store_id(self) -> str:
        return str(self.attr("store_id", ""))

    @property
    def revision(self) -> int:
        """Incremented each time the store is rewritten (indexes record it to detect staleness)."""
        return int(self.attr("revision", 0))

    @property
    def format_version(self) -> int:
        return int(self.attr("format_version", 0))

    @property
    def tool_version(self) -> str:
        return str(self.attr("tool_version", ""))

    @property
    def config(self) -> dict[str, Any]:
        """The run's config (TOML values) as recorded when the store was made."""
        return dict(json_attr(self.file.attrs, "config", {}))

    @property
    def settings(self) -> dict[str, Any]:
        """How items were cut: `window` and `hop` in seconds (audio)."""
        return dict(json_attr(self.file.attrs, "settings", {}))

    @property
    def roots(self) -> list[dict[str, str]]:
        """The folders and files embedded (`{"label", "path"}`, absolute, latest first): a
        row's `source` is relative to one of them, prefixed by its label when it has one.
        Empty for stores written before 0.3."""
        return [dict(r) for r in json_attr(self.file.attrs, ROOTS, [])]

    @property
    def modalities(self) -> tuple[str, ...]:
        return modality_names(self.file)

    # -- rows ----------------------------------------------------------------------------------
    def _group(self, modality: str) -> h5py.Group:
        if modality not in self.modalities:
            have = ", ".join(self.modalities) or "none"
            raise InputError(self.path, f"the store has no {modality} embeddings (it has: {have})")
        return self.file[modality]

    def __len__(self) -> int:
        return sum(self.rows(m) for m in self.modalities)

    def rows(self, modality: str) -> int:
        return int(self._group(modality)["embeddings"].shape[0])

    def dim(self, modality: str) -> int:
        return int(self._group(modality)["embeddings"].shape[1])

    def embeddings(self, modality: str) -> h5py.Dataset:
        """The `(N, D)` float32 embeddings, read lazily: `[a:b]` reads those rows only."""
        return self._group(modality)["embeddings"]

    def unit(self, modality: str) -> np.ndarray | None:
        """The `(N, D)` unit-length rows exact search reads, memory-mapped from the file (read
        once into the page cache, then shared by every search of this process and others);
        None when the store has none for this revision (a store of 0.1.0)."""
        if modality in self._units:
            return self._units[modality]
        g = self._group(modality)
        ds = g.get(UNIT)
        rows = None
        if (
            ds is not None
            and ds.shape == g["embeddings"].shape
            and ds.dtype == np.float32
            and ds.chunks is None
            and ds.compression is None
            and int(ds.attrs.get("revision", -1)) == self.revision
        ):
            offset = ds.id.get_offset()
            if offset is not None:
                # Map the file this Store opened (its descriptor), not whatever the path names now:
                # a writer may have renamed a newer store over it since.
                with os.fdopen(os.dup(self.file.id.get_vfd_handle()), "rb") as fh:
                    rows = np.memmap(fh, dtype=np.float32, mode="r", offset=offset, shape=ds.shape)
        self._units[modality] = rows
        return rows

    def unit_rows(self, modality: str, rows: np.ndarray | Sequence[int] | slice) -> np.ndarray:
        """The rows at `rows` (indices in any order, or a slice) at unit length, float32: read from
        the unit copy when the store has one, else read and normalised (a store of 0.1.0)."""
        unit = self.unit(modality)
        if isinstance(rows, slice):
            return np.asarray(unit[rows]) if unit is not None else normalize_rows(self.embeddings(modality)[rows])
        rows = np.asarray(rows, dtype=np.int64)
        if unit is not None:
            return np.asarray(unit[rows], dtype=np.float32)
        order = np.argsort(rows)  # h5py reads increasing indices only
        out = np.empty((len(rows), self.dim(modality)), dtype=np.float32)
        out[order] = normalize_rows(self.embeddings(modality)[rows[order]])
        return out

    def ids(self, modality: str) -> np.ndarray:
        """The `(N,)` row ids as an object array of `str`."""
        return self._group(modality)["ids"].asstr()[:]

    def sources(self, modality: str) -> np.ndarray:
        """The `(N,)` source file of each row as an object array of `str`."""
        return tables.sources(self._group(modality))

    def metadata(self, modality: str, start: int = 0, stop: int | None = None) -> dict[str, np.ndarray]:
        """Columns `ids, source, size, mtime, start, end, line` of rows `start:stop`."""
        return tables.read_columns(self._group(modality), start, stop)

    def rows_at(self, modality: str, indices: np.ndarray | list[int]) -> list[dict[str, Any]]:
        """The metadata of the rows at `indices` (any order), as dicts in that order."""
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size == 0:
            return []
        order = np.unique(idx)
        g = self._group(modality)
        cols = {}
        for col, dtype in COLUMNS.items():
            ds = g[col].asstr() if dtype is tables.STR else g[col]
            cols[col] = np.asarray(ds[order])
        pos = np.searchsorted(order, idx)
        out = []
        for p in pos.tolist():
            row = {c: v[p] for c, v in cols.items()}
            out.append({k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()})
        return out

    @property
    def errors(self) -> list[tuple[str, str]]:
        """(path, message) of every file that was skipped."""
        return tables.read_errors(self.file)

    @property
    def pending_journal(self) -> bool:
        """True when an interrupted or running `embed` has journal records not folded in yet
        (re-running the same `embed` command folds them)."""
        return pending_journal(self.path)

    # -- lifetime ------------------------------------------------------------------------------
    def close(self) -> None:
        self._units.clear()
        self.file.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        rows = ", ".join(f"{m}={self.rows(m)}" for m in self.modalities) if self.file else "closed"
        return f"Store({str(self.path)!r}, run_id={self.run_id!r}, {rows})"
