"""Exact nearest neighbours by cosine similarity, in blocks of rows (bounded memory).

Each block of stored rows is normalised, scored against the queries with one matmul and cut to
its best `k` with `argpartition`; the running best `k` are merged block by block. On this
machine kind, a blocked numpy matmul + argpartition beat faiss's flat index (FINDINGS: 3.9 ms
a query over 10^6 x 128), so this is the default; `ugaar_kit.store.index` adds an
approximate faiss index for larger stores.
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

__all__ = ["BLOCK_BYTES", "Hit", "normalize_rows", "search_store", "top_k"]


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
    store: Store,
    query: np.ndarray,
    targets: Sequence[str],
    k: int = 10,
    *,
    exact: bool = False,
    notes: list[str] | None = None,
) -> dict[str, list[Hit]]:
    """The `k` rows of each target modality nearest to `query` `(D,)`, best first.

    Uses the store's faiss index of a modality when one is present and fresh (unless `exact`),
    else exact blocked search; `notes` collects why an index was not used."""
    from ugaar_kit.store.index import load_index, search_index

    q = np.asarray(query, dtype=np.float32).reshape(1, -1)
    out: dict[str, list[Hit]] = {}
    for m in targets:
        index = None if exact else load_index(store, m, notes)
        if index is not None:
            scores, indices = search_index(index, q, min(k, store.rows(m)))
        else:
            scores, indices = top_k(q, store.embeddings(m), k)
        keep = indices[0] >= 0
        sel_s, sel_i = scores[0][keep], indices[0][keep]
        rows = store.rows_at(m, sel_i)
        out[m] = [
            Hit(
                modality=m,
                rank=r + 1,
                id=str(row["ids"]),
                score=float(s),
                source=str(row["source"]),
                start=None if math.isnan(row["start"]) else float(row["start"]),
                end=None if math.isnan(row["end"]) else float(row["end"]),
                line=int(row["line"]) or None,
            )
            for r, (s, row) in enumerate(zip(sel_s.tolist(), rows))
        ]
    return out
