"""Searching a store: the stored rows nearest to queries in the shared space, as `Hit`s.

Exact search (`ugaar_kit.store.exact.top_k`) over the store's unit-length rows, memory-mapped,
is the default; a fresh faiss index (`ugaar_kit.store.index`) is used where one was built.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ugaar_kit.store.exact import BLOCK_BYTES, normalize_rows, top_k
from ugaar_kit.store.reader import Store

__all__ = ["BLOCK_BYTES", "Hit", "normalize_rows", "search_many", "search_store", "top_k"]


@dataclass(frozen=True)
class Hit:
    """One search result: a stored row, its cosine score and where it comes from."""

    modality: str
    rank: int
    id: str
    score: float
    source: str
    start: float | None = None
    end: float | None = None
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def search_store(
    store: Store, query: np.ndarray, targets: Sequence[str], k: int = 10, **options: Any
) -> dict[str, list[Hit]]:
    """The `k` rows of each target modality nearest to `query` `(D,)`, best first: `search_many`
    of one query (`options`: its `exact` and `notes`)."""
    return search_many(store, np.asarray(query, dtype=np.float32).reshape(1, -1), targets, k, **options)[0]


def search_many(
    store: Store,
    queries: np.ndarray,
    targets: Sequence[str],
    k: int = 10,
    *,
    exact: bool = False,
    notes: list[str] | None = None,
    penalties: dict[str, np.ndarray] | None = None,
) -> list[dict[str, list[Hit]]]:
    """For each query of `queries` `(Q, D)`, the `k` rows of each target modality nearest to it,
    best first; all queries are scored in one pass over the rows (a matrix product), which
    costs little more than one query.

    Uses the store's faiss index of a modality when one is present and fresh (unless `exact`),
    else exact search over the store's unit-length rows (memory-mapped), or over its raw rows
    normalised block by block for a store of 0.1.0; `notes` collects why an index or the unit
    rows were not used. `penalties[m]` `(N,)` is subtracted from each row's cosine before the
    `k` best are taken (exact search only; a `Hit`'s score is then the corrected one)."""
    from ugaar_kit.store.index import load_index, search_index

    q = np.asarray(queries, dtype=np.float32).reshape(len(queries), -1)
    out: list[dict[str, list[Hit]]] = [{} for _ in range(len(q))]
    for m in targets:
        penalty = (penalties or {}).get(m)
        index = None if exact or penalty is not None else load_index(store, m, notes)
        if index is not None:
            scores, indices = search_index(index, q, min(k, store.rows(m)))
        else:
            unit = store.unit(m)
            if unit is None and store.rows(m) and notes is not None:
                notes.append(
                    f"{store.path}: no unit-length {m} rows (a store of 0.1.0): each search normalises every row; "
                    f"'ugaar-kit store merge {store.path} --out NEW.h5' writes a store that has them"
                )
            rows = unit if unit is not None else store.embeddings(m)
            scores, indices = top_k(q, rows, k, unit=unit is not None, penalty=penalty)
        found = indices[indices >= 0]
        meta = dict(zip(found.tolist(), store.rows_at(m, found))) if found.size else {}
        for qi in range(len(q)):
            out[qi][m] = [
                _hit(m, r + 1, float(s), meta[int(i)])
                for r, (s, i) in enumerate(zip(scores[qi].tolist(), indices[qi].tolist()))
                if i >= 0
            ]
    return out


def _hit(modality: str, rank: int, score: float, row: dict[str, Any]) -> Hit:
    return Hit(
        modality=modality,
        rank=rank,
        id=str(row["ids"]),
        score=score,
        source=str(row["source"]),
        start=None if math.isnan(row["start"]) else float(row["start"]),
        end=None if math.isnan(row["end"]) else float(row["end"]),
        line=int(row["line"]) or None,
    )
