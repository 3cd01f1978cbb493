"""Joining stores of one run (e.g. the shards of `embed --shard K/N`) into one, atomically.

Rows are copied in blocks, so memory stays bounded. A file present in several inputs keeps the
rows of the last input that has it. Stores of different runs (their embeddings live in
different spaces) or embedded with other windows are refused.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ugaar_kit.errors import InputError
from ugaar_kit.infra.atomic import atomic_path
from ugaar_kit.store import tables
from ugaar_kit.store.format import (
    FORMAT_VERSION,
    ROOTS,
    json_attr,
    merge_roots,
    modality_names,
    open_h5,
    open_store,
    text_attr,
)
from ugaar_kit.store.reader import pending_journal
from ugaar_kit.store.writer import now
from ugaar_kit.version import __version__


@dataclass
class MergeReport:
    """What a merge wrote: rows per modality, rows dropped as duplicates, warnings."""

    rows: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    errors: int = 0
    notes: list[str] = field(default_factory=list)


def merge_stores(inputs: Sequence[str | Path], out: str | Path) -> MergeReport:
    """Write the union of the stores `inputs` to `out` (replaced atomically when it exists)."""
    paths = [Path(p) for p in inputs]
    out = Path(out)
    if not paths:
        raise InputError(out, "nothing to merge")
    report = MergeReport()
    stores = [open_store(p) for p in paths]
    try:
        first = stores[0]
        run_id = text_attr(first.attrs.get("run_id", ""))
        settings = json_attr(first.attrs, "settings", {})
        dims: dict[str, int] = {}
        for p, f in zip(paths, stores):
            rid = text_attr(f.attrs.get("run_id", ""))
            if rid != run_id:
                raise InputError(
                    p, f"made by run {rid}, but {paths[0]} by run {run_id}: stores of different runs cannot be merged"
                )
            if json_attr(f.attrs, "settings", {}) != settings:
                raise InputError(
                    p,
                    f"embedded with other settings ({json_attr(f.attrs, 'settings', {})}) than {paths[0]} ({settings})",
                )
            for m in modality_names(f):
                d = int(f[m].attrs["dim"])
                if dims.setdefault(m, d) != d:
                    raise InputError(p, f"{m} embeddings are {d} wide, {dims[m]} in an earlier input")
            if pending_journal(p):
                report.notes.append(f"{p} has journal records not folded in yet (re-run its embed command first)")

        # Which input's rows each (modality, source) keeps: the last input holding it.
        later: dict[str, set[str]] = {m: set() for m in dims}
        keeps: list[dict[str, np.ndarray | None]] = [dict() for _ in stores]
        for i in range(len(stores) - 1, -1, -1):
            f = stores[i]
            for m in modality_names(f):
                src = tables.sources(f[m])
                if later[m]:
                    mask = ~tables.member(src, later[m])
                    report.duplicates += int((~mask).sum())
                    keeps[i][m] = mask
                else:
                    keeps[i][m] = None
                later[m].update(src.tolist())

        with atomic_path(out) as tmp:
            with open_h5(tmp, "w") as dst:
                tables.copy_attrs(first, dst)
                dst.attrs["format_version"] = FORMAT_VERSION
                dst.attrs["tool_version"] = __version__
                dst.attrs["store_id"] = uuid.uuid4().hex
                dst.attrs["revision"] = 1
                dst.attrs["journal"] = "{}"
                dst.attrs["created"] = now()
                dst.attrs["updated"] = now()
                dst.attrs["merged_from"] = json.dumps([str(p) for p in paths])
                dst.attrs[ROOTS] = json.dumps(merge_roots(*(json_attr(f.attrs, ROOTS, []) for f in stores)))
                for m in sorted(dims):
                    g = tables.create_modality(dst, m, dims[m])
                    for f, kept in zip(stores, keeps):
                        if m in f:
                            tables.copy_rows(f[m], g, kept.get(m))
                    report.rows[m] = int(g["embeddings"].shape[0])
                    tables.write_unit(g, 1)
                embedded = set().union(*later.values()) if later else set()
                errors = tables.merge_errors([], [e for f in stores for e in tables.read_errors(f)], embedded)
                tables.write_errors(dst, errors)
                report.errors = len(errors)
    finally:
        for f in stores:
            f.close()
    return report
