"""Exact nearest neighbours by cosine similarity over stored rows, in blocks (bounded memory).

Each block of stored rows is scored against the queries with one matmul and cut to its best `k`
with `argpartition`; the running best `k` are merged block by block. A store keeps its rows at
unit length too (`Store.unit`, memory-mapped), so a search normalises nothing but its queries;
raw rows (a store of 0.1.0, an array) are normalised block by block as they are read. On this
machine kind, a blocked numpy matmul + argpartition beat faiss's flat index (FINDINGS: 3.9 ms
a query over 10^6 x 128), so this is the default; `ugaar_kit.store.index` adds an
approximate faiss index for larger stores.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BLOCK_BYTES = 64 << 20
"""About this many bytes of stored rows are scored at a time (and of scores: a block's rows times
the queries scored together)."""


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows of `x` `(N, D)` scaled to unit length, as float32 (all-zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, np.float32(1e-12))


QUERY_GROUP = 256
"""Queries scored together: their scores against a block stay within `BLOCK_BYTES` too."""


def top_k(
    queries: np.ndarray,
    rows: Any,
    k: int,
    block_rows: int | None = None,
    *,
    unit: bool = False,
    penalty: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The `k` rows most cosine-similar to each query, best first (by cosine minus `penalty[row]`
    when a penalty `(N,)` is given: a hubness correction, `ugaar_kit.retrieval.hubness`).

    `queries` is `(Q, D)`; `rows` is anything `(N, D)` that slices into arrays (a NumPy array, a
    memory map, an h5py dataset read block by block); `unit=True` says its rows are unit length
    already (a store's `unit` rows), so they are used as they are. Returns `(scores, indices)`,
    both `(Q, min(k, N))`: cosine similarities (float32) and row indices (int64); ties go to the
    lower index."""
    q = normalize_rows(np.atleast_2d(queries))
    penalty = None if penalty is None else np.asarray(penalty, dtype=np.float32)
    n, dim = int(rows.shape[0]), int(rows.shape[1])
    if q.shape[1] != dim:
        raise ValueError(f"queries are {q.shape[1]} wide, the rows {dim}")
    k = min(int(k), n)
    if k <= 0 or len(q) == 0:
        return np.empty((len(q), 0), dtype=np.float32), np.empty((len(q), 0), dtype=np.int64)
    group = min(len(q), QUERY_GROUP)
    step = block_rows or max(1024, BLOCK_BYTES // (4 * max(dim, group)))
    best = [
        (np.empty((min(group, len(q) - g), 0), dtype=np.float32), np.empty((min(group, len(q) - g), 0), dtype=np.int64))
        for g in range(0, len(q), group)
    ]
    for a in range(0, n, step):
        block = rows[a : min(n, a + step)]
        block = np.asarray(block, dtype=np.float32) if unit else normalize_rows(block)
        for gi, g in enumerate(range(0, len(q), group)):
            scores = q[g : g + group] @ block.T
            if penalty is not None:
                scores -= penalty[a : a + len(block)][None, :]
            cand_s, cand_i = _candidates(scores, k)
            best_s = np.concatenate([best[gi][0], cand_s], axis=1)
            best_i = np.concatenate([best[gi][1], cand_i + a], axis=1)
            keep = _order(best_s, best_i)[:, :k]
            best[gi] = (np.take_along_axis(best_s, keep, axis=1), np.take_along_axis(best_i, keep, axis=1))
    return np.concatenate([s for s, _ in best]), np.concatenate([i for _, i in best])


def _candidates(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row of `scores` `(Q, B)`: its k best columns, or, for a row whose k-th best ties with
    the next, every column scoring at least the k-th best (`_order` then settles ties by index);
    padded with -inf and index -1. `torch.topk` finds them, several times faster here than
    `np.argpartition`."""
    import torch

    width = scores.shape[1]
    kk = min(k, width)
    if kk == width:
        return scores, np.broadcast_to(np.arange(width, dtype=np.int64), scores.shape)
    got = torch.topk(torch.from_numpy(scores), kk + 1, dim=1, sorted=False)
    vals, idx = got.values.numpy(), got.indices.numpy().astype(np.int64)
    drop = np.argmin(vals, axis=1)  # the (k+1)-th best of each row
    keep = np.ones(vals.shape, dtype=bool)
    keep[np.arange(len(vals)), drop] = False
    cand_s, cand_i = vals[keep].reshape(-1, kk), idx[keep].reshape(-1, kk)
    kth = cand_s.min(axis=1)
    tied = np.flatnonzero(kth <= vals[np.arange(len(vals)), drop])
    if tied.size == 0:
        return cand_s, cand_i
    sub = scores[tied]
    r, c = np.nonzero(sub >= kth[tied][:, None])
    counts = np.bincount(r, minlength=len(tied))
    pos = np.arange(len(r)) - np.repeat(np.cumsum(counts) - counts, counts)
    wide = max(kk, int(counts.max()))
    out_s = np.full((len(scores), wide), -np.inf, dtype=np.float32)
    out_i = np.full(out_s.shape, -1, dtype=np.int64)
    out_s[:, :kk], out_i[:, :kk] = cand_s, cand_i
    out_s[tied], out_i[tied] = -np.inf, -1
    out_s[tied[r], pos] = sub[r, c]
    out_i[tied[r], pos] = c
    return out_s, out_i


def _order(scores: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Per row: positions sorted by score descending, then index ascending (padding last)."""
    return np.lexsort((np.where(indices < 0, np.iinfo(np.int64).max, indices), -scores), axis=1)
