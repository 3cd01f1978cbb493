"""The embedding store's names, version and schema, and the check every reader makes first.

One HDF5 file (see docs/formats.md, "Embedding store"):

    /                 attrs: format, format_version, tool_version, run_id, config (JSON),
                      store_id, revision, created, updated, settings (JSON), journal (JSON),
                      roots (JSON: [{"label", "path"}], the folders and files embedded, absolute;
                      absent in stores of 0.1 and 0.2)
    /<modality>/      attrs: dim
        ids           (N,)   UTF-8   `source`, `source#t=START-END` (a window), `source#L12` (a line)
        embeddings    (N, D) float32 chunked, maxshape (None, D)
        unit          (N, D) float32 contiguous: `embeddings` scaled to unit length, which exact
                                     search memory-maps; attrs: revision (the store's when written).
                                     Written at every fold and merge; absent in stores of 0.1.0
                                     (search then normalises blocks as it reads them)
        source        (N,)   UTF-8   the file, relative to its root (prefixed by the root's name
                                     when several roots were embedded)
        size, mtime   (N,)   int64 bytes, float64 seconds since the epoch: the file when embedded
        start, end    (N,)   float64 seconds of a window (NaN for rows that are not audio)
        line          (N,)   int32   1-based line of a lyrics row (0 for rows that are not lines)
    /errors/          path (M,), message (M,)  UTF-8: the files that were skipped and why
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ugaar_kit.errors import InputError

FORMAT = "ugaar-kit-embeddings"
FORMAT_VERSION = 1
ROOTS = "roots"
"""The root attribute listing the folders and files a store's sources are relative to."""
UNIT = "unit"
"""The dataset of unit-length rows inside a modality group (see the module doc)."""
ERRORS = "errors"
"""The group of the error table; no modality may take this name."""

STR = h5py.string_dtype()
COLUMNS: dict[str, Any] = {
    "ids": STR,
    "source": STR,
    "size": np.int64,
    "mtime": np.float64,
    "start": np.float64,
    "end": np.float64,
    "line": np.int32,
}
"""The per-row columns of a modality group besides `embeddings`, with their HDF5 types."""

NO_LINE = 0
"""`line` of a row that is not a lyrics line."""


def merge_roots(*groups: Any) -> list[dict[str, str]]:
    """The roots of several lists (`[{"label", "path"}]`), each once, the latest first: a
    source is looked for under the most recently embedded root that holds it."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    for group in reversed(groups):
        for root in group or []:
            key = (str(root.get("label", "")), str(root.get("path", "")))
            if key[1] and key not in out:
                out[key] = {"label": key[0], "path": key[1]}
    return list(out.values())


def journal_dir(store: Path) -> Path:
    """Where a writer keeps its lock, journal and temporary files: `EMB.h5.journal/` beside it."""
    store = Path(store)
    return store.with_name(store.name + ".journal")


def text_attr(value: Any) -> str:
    """An HDF5 string attribute as `str` (h5py gives `str` or `bytes` depending on the writer)."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def json_attr(attrs: Any, name: str, default: Any) -> Any:
    """A JSON-encoded attribute, or `default` when absent."""
    if name not in attrs:
        return default
    return json.loads(text_attr(attrs[name]))


def check_header(f: h5py.File, path: Path | str) -> None:
    """Raise `InputError(path, ...)` unless `f` is an embedding store this version can read."""
    fmt = text_attr(f.attrs["format"]) if "format" in f.attrs else None
    if fmt != FORMAT:
        what = f"format '{fmt}'" if fmt else "no format attribute"
        raise InputError(path, f"not a ugaar-kit embedding store ({what}; expected '{FORMAT}')")
    version = f.attrs.get("format_version")
    try:
        number = int(version)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(path, f"embedding store has an unreadable format_version {version!r}") from None
    if number > FORMAT_VERSION:
        raise InputError(
            path,
            f"embedding store format version {number} is newer than this ugaar-kit reads ({FORMAT_VERSION}); upgrade ugaar-kit",
        )


def open_h5(path: Path | str, mode: str = "r") -> h5py.File:
    """`h5py.File(path, mode)`, with a missing or non-HDF5 file reported as one-line InputError."""
    path = Path(path)
    if mode == "r" and not path.exists():
        raise InputError(path, "no such embedding store")
    try:
        return h5py.File(path, mode)
    except OSError as exc:
        raise InputError(path, f"not a readable HDF5 file ({exc})") from None


def open_store(path: Path | str) -> h5py.File:
    """An existing store opened read-only, its header checked."""
    f = open_h5(path, "r")
    try:
        check_header(f, path)
    except BaseException:
        f.close()
        raise
    return f


def modality_names(f: h5py.File) -> tuple[str, ...]:
    """The modality groups of an open store, sorted."""
    return tuple(sorted(k for k, v in f.items() if k != ERRORS and isinstance(v, h5py.Group)))


def check_modality_name(name: str) -> None:
    if name == ERRORS or not name or "/" in name:
        raise ValueError(f"'{name}' cannot be a modality of an embedding store")
