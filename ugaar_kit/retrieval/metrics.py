"""Cross-modal retrieval metrics: R@k, MRR, median rank, each beside its chance level.

Definitions (one direction, e.g. `audio->sheet`: audio rows query, sheet rows are candidates):

- Items are the rows `0..N-1`; row i of every modality is item i. Every item is one query.
- Groups: items with the same `groups` entry (verbatim repeats of a passage) form one
  candidate and one correct answer. A group's score for a query is the highest score of its
  members; the query's answer is its own group. Without groups (or for a `None` entry) every
  item is its own group. The pool is the number of candidate groups, P.
- Rank of a query = 1 + (number of other groups scoring above its answer) + (number of other
  groups scoring the same, within `tie_tol`). Ties count against the model (`ties="worst"`),
  so constant embeddings rank every answer last (MRR 1/P, below chance), never first.
  `ties="mean"` instead gives the expected value under random tie-breaking (for baselines such
  as a count match (`count_match`), whose scores tie by design; constant scores then sit exactly at chance).
- R@k: fraction of queries with rank <= k; MRR: mean of 1/rank; MedR, MeanR: median and mean
  rank. Chance for a pool of P: R@k = k/P, MRR = H_P/P (H_P the P-th harmonic number),
  MedR = (P+1)/2.

Scores are cosine similarities, computed in blocks of query rows so memory stays bounded
(`block_elements` scores at a time) for N of 10^5 and more. `pooled` averages any of these
metrics over random pools of a fixed size, because MRR depends strongly on the pool size.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

Ties = Literal["worst", "mean"]
Scorer = Callable[[Tensor, Tensor], Tensor]
"""`score(queries (b, ...), candidates (N, ...)) -> (b, N)`, higher is better."""

DEFAULT_KS = (1, 5, 10)
DEFAULT_BLOCK = 1 << 24


def harmonic(n: int) -> float:
    """The n-th harmonic number `1 + 1/2 + ... + 1/n`."""
    return (
        float(np.sum(1.0 / np.arange(1, n + 1))) if n < 10_000_000 else math.log(n) + 0.5772156649015329 + 1 / (2 * n)
    )


def chance(pool: int, ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """Expected metrics of a random ranking of `pool` candidates."""
    out = {f"chance_R@{k}": min(k, pool) / pool for k in ks}
    out["chance_MRR"] = harmonic(pool) / pool
    out["chance_MedR"] = (pool + 1) / 2
    return out


def group_ids(groups: Sequence[str | None] | None, n: int) -> tuple[Tensor, int]:
    """Dense group indices `(n,)` and the number of groups; `None` entries are singletons."""
    if groups is None:
        return torch.arange(n), n
    if len(groups) != n:
        raise ValueError(f"groups has {len(groups)} entries for {n} items")
    index: dict[Any, int] = {}
    ids = []
    for i, g in enumerate(groups):
        key = ("__item__", i) if g is None else g
        ids.append(index.setdefault(key, len(index)))
    return torch.tensor(ids, dtype=torch.long), len(index)


def cosine(queries: Tensor, candidates: Tensor) -> Tensor:
    """Cosine similarity of L2-normalised rows `(b, D) x (N, D) -> (b, N)`."""
    return queries @ candidates.T


def abs_difference(queries: Tensor, candidates: Tensor) -> Tensor:
    """Minus the absolute difference of counts `(b,) x (N,) -> (b, N)`: closer counts score higher."""
    return -(queries[:, None] - candidates[None, :]).abs()


def rank_counts(
    queries: Tensor,
    candidates: Tensor,
    score: Scorer,
    ids: Tensor,
    n_groups: int,
    *,
    tie_tol: float = 1e-6,
    block_elements: int = DEFAULT_BLOCK,
    split_ties: bool = True,
) -> tuple[Tensor, Tensor]:
    """For every query row i (its answer is group `ids[i]`): the number of other groups scoring
    above the answer and the number tying with it, each `(N,)` int64. Scores `(b, N)` are
    reduced to groups `(b, P)` by their maximum, one block of query rows at a time. With
    `split_ties=False` ties are counted in the first number and the second is 0 (all that
    worst-case ranks need, one comparison pass fewer)."""
    n = int(queries.shape[0])
    grouped = n_groups != int(candidates.shape[0])
    rows = max(1, block_elements // max(int(candidates.shape[0]), 1))
    better = torch.empty(n, dtype=torch.long)
    tied = torch.empty(n, dtype=torch.long)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        s = score(queries[start:stop], candidates)
        if grouped:
            index = ids.to(s.device).expand(stop - start, -1)
            s = s.new_full((stop - start, n_groups), -math.inf).scatter_reduce_(1, index, s, "amax")
        answer = s.gather(1, ids[start:stop, None].to(s.device))
        at_least = (s >= answer - tie_tol).sum(1, dtype=torch.int32) - 1  # minus the answer itself
        if split_ties:
            above = (s > answer + tie_tol).sum(1, dtype=torch.int32)
            better[start:stop] = above.cpu()
            tied[start:stop] = (at_least - above).cpu()
        else:
            better[start:stop] = at_least.cpu()
            tied[start:stop] = 0
    return better, tied


def summarize(
    better: Tensor, tied: Tensor, pool: int, ks: Sequence[int] = DEFAULT_KS, ties: Ties = "worst"
) -> dict[str, float]:
    """Metric values from `rank_counts` output, with chance for a pool of `pool`."""
    b = better.double().numpy()
    t = tied.double().numpy()
    out: dict[str, float] = {}
    if ties == "worst":
        r = b + t + 1
        for k in ks:
            out[f"R@{k}"] = float(np.mean(r <= k))
        out["MRR"] = float(np.mean(1.0 / r))
    elif ties == "mean":
        # rank uniform over b+1 .. b+t+1
        r = b + t / 2 + 1
        for k in ks:
            out[f"R@{k}"] = float(np.mean(np.clip((k - b) / (t + 1), 0.0, 1.0)))
        h_hi = torch.special.digamma(torch.from_numpy(b + t + 2)).numpy()
        h_lo = torch.special.digamma(torch.from_numpy(b + 1)).numpy()
        out["MRR"] = float(np.mean((h_hi - h_lo) / (t + 1)))
    else:
        raise ValueError(f"unknown ties {ties!r} (known: worst, mean)")
    out["MedR"] = float(np.median(r))
    out["MeanR"] = float(np.mean(r))
    out["pool"] = float(pool)
    out["queries"] = float(len(b))
    out.update(chance(pool, ks))
    return out


def _as_tensor(x: Any, name: str) -> Tensor:
    t = torch.as_tensor(x)
    if not t.is_floating_point():
        t = t.double()
    if t.ndim != 2:
        raise ValueError(f"embeddings of {name} must be (N, D), got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"embeddings of {name} contain NaN or inf")
    return t


def retrieval_metrics(
    embeddings: Mapping[str, Any],
    groups: Sequence[str | None] | None = None,
    directions: Iterable[tuple[str, str]] | None = None,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    ties: Ties = "worst",
    tie_tol: float = 1e-6,
    block_elements: int = DEFAULT_BLOCK,
) -> dict[str, dict[str, float]]:
    """Retrieval metrics by direction (`"audio->sheet"`) from shared-space embeddings.

    `embeddings`: modality -> `(N, D)` (tensor or array), row i of each is item i.
    `directions`: (query, candidate) modality pairs; default every ordered pair present.
    Returns `{"audio->sheet": {"R@1", "R@5", "R@10", "MRR", "MedR", "MeanR", "pool",
    "queries", "chance_R@1", ..., "chance_MRR", "chance_MedR"}, ...}`."""
    embs = {m: _as_tensor(e, m) for m, e in embeddings.items()}
    sizes = {m: int(e.shape[0]) for m, e in embs.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"modalities have different numbers of rows: {sizes}")
    n = next(iter(sizes.values()), 0)
    if n == 0:
        raise ValueError("no items to evaluate")
    pairs = list(directions) if directions is not None else list(itertools.permutations(embs, 2))
    ids, n_groups = group_ids(groups, n)
    normed = {m: torch.nn.functional.normalize(e, dim=1) for m, e in embs.items()}
    out: dict[str, dict[str, float]] = {}
    for q, c in pairs:
        for m in (q, c):
            if m not in normed:
                raise ValueError(f"direction {q}->{c}: no embeddings for '{m}' (have: {', '.join(normed)})")
        if normed[q].shape[1] != normed[c].shape[1]:
            raise ValueError(f"direction {q}->{c}: widths differ ({normed[q].shape[1]} vs {normed[c].shape[1]})")
        better, tied = rank_counts(
            normed[q],
            normed[c],
            cosine,
            ids,
            n_groups,
            tie_tol=tie_tol,
            block_elements=block_elements,
            split_ties=ties != "worst",
        )
        out[f"{q}->{c}"] = summarize(better, tied, n_groups, ks, ties)
    return out


def count_match(
    query_counts: Sequence[float],
    candidate_counts: Sequence[float],
    groups: Sequence[str | None] | None = None,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    ties: Ties = "worst",
    block_elements: int = DEFAULT_BLOCK,
) -> tuple[dict[str, float], dict[str, float]]:
    """A ranking without a model: candidates by `|candidate count - query count|` (counts
    within 0.5 tie), item i's query count against every item's candidate count; the figures of
    both directions (queries -> candidates, candidates -> queries) with the keys of
    `retrieval_metrics`. Most candidates tie, so compare `ties="mean"` figures with a model's."""
    q = torch.as_tensor(list(query_counts), dtype=torch.float64)
    c = torch.as_tensor(list(candidate_counts), dtype=torch.float64)
    if q.shape != c.shape:
        raise ValueError(f"{len(q)} query counts for {len(c)} candidate counts")
    ids, n_groups = group_ids(groups, len(q))
    rows = []
    for a, b in ((q, c), (c, q)):
        counts = rank_counts(a, b, abs_difference, ids, n_groups, tie_tol=0.5, block_elements=block_elements)
        rows.append(summarize(*counts, n_groups, ks, ties))
    return rows[0], rows[1]


def same_key(queries: Tensor, candidates: Tensor) -> Tensor:
    """1 where a query's content id equals a candidate's, else 0 `(b,) x (N,) -> (b, N)`."""
    return (queries[:, None] == candidates[None, :]).to(torch.float64)


def content_ids(keys: Sequence[Any]) -> Tensor:
    """Dense ids `(N,)` of hashable content keys; a `None` key is unique (equal to nothing)."""
    index: dict[Any, int] = {}
    ids = []
    for i, k in enumerate(keys):
        ids.append(index.setdefault(("__unique__", i) if k is None else k, len(index)))
    return torch.tensor(ids, dtype=torch.float64)


def ceiling_metrics(
    keys: Mapping[str, Sequence[Any]],
    groups: Sequence[str | None] | None = None,
    directions: Iterable[tuple[str, str]] | None = None,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    block_elements: int = DEFAULT_BLOCK,
) -> dict[str, dict[str, float]]:
    """The best figures any model can reach on these items, per direction, ties against it.

    `keys`: modality -> one hashable content key per item (`None`: unlike every other). A model
    gives candidates of identical content identical embeddings, so in `q->c` every other
    candidate group whose `c` key equals the answer's ties with the answer at best, and counts
    against the model as in `retrieval_metrics`. Same keys as `retrieval_metrics`; with no
    repeated content every figure is perfect (MRR 1)."""
    ids = {m: content_ids(k) for m, k in keys.items()}
    n = len(next(iter(ids.values())))
    gid, n_groups = group_ids(groups, n)
    pairs = list(directions) if directions is not None else list(itertools.permutations(ids, 2))
    out: dict[str, dict[str, float]] = {}
    for q, c in pairs:
        better, tied = rank_counts(
            ids[c], ids[c], same_key, gid, n_groups, tie_tol=0.5, block_elements=block_elements, split_ties=False
        )
        out[f"{q}->{c}"] = summarize(better, tied, n_groups, ks, "worst")
    return out


def _subset(value: Any, index: np.ndarray) -> Any:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {k: _subset(v, index) for k, v in value.items()}
    if isinstance(value, Tensor):
        return value[torch.from_numpy(index)]
    if isinstance(value, np.ndarray):
        return value[index]
    return [value[i] for i in index]


def pooled(
    metric_fn: Callable[..., dict[str, dict[str, float]]],
    items: Mapping[str, Any],
    *,
    pool: int,
    draws: int = 10,
    seed: int = 0,
    **fixed: Any,
) -> dict[str, dict[str, float]]:
    """Mean and standard deviation of `metric_fn` over `draws` random pools of `pool` candidates.

    `items`: the keyword arguments of `metric_fn` that hold one entry per item (a tensor or
    array of N rows, a sequence of N, or a mapping of those such as `embeddings`); every draw
    subsets them all with the same rows. `fixed`: other keyword arguments, passed unchanged.
    When `items["groups"]` is given, whole groups are drawn, so each pool holds exactly `pool`
    candidates. Returns `{direction: {key: mean, key + "_std": std, ..., "draws": draws}}`.

        pooled(retrieval_metrics, {"embeddings": embs, "groups": groups}, pool=1000, draws=20)
    """
    groups = items.get("groups")
    sizes = {
        len(v) if not isinstance(v, Mapping) else len(next(iter(v.values()))) for v in items.values() if v is not None
    }
    if len(sizes) != 1:
        raise ValueError(f"per-item arguments have different lengths: {sorted(sizes)}")
    n = sizes.pop()
    ids, n_groups = group_ids(groups, n)
    if pool > n_groups:
        raise ValueError(f"pool of {pool} is larger than the {n_groups} candidates available")
    members: list[list[int]] = [[] for _ in range(n_groups)]
    for i, g in enumerate(ids.tolist()):
        members[g].append(i)
    rng = np.random.default_rng(seed)
    runs: list[dict[str, dict[str, float]]] = []
    for _ in range(draws):
        chosen = rng.choice(n_groups, size=pool, replace=False)
        index = np.sort(np.concatenate([np.asarray(members[g], dtype=np.int64) for g in chosen]))
        runs.append(metric_fn(**{k: _subset(v, index) for k, v in items.items()}, **fixed))
    out: dict[str, dict[str, float]] = {}
    for direction in runs[0]:
        row: dict[str, float] = {}
        for key in runs[0][direction]:
            values = np.array([r[direction][key] for r in runs], dtype=np.float64)
            row[key] = float(values.mean())
            row[f"{key}_std"] = float(values.std(ddof=1)) if draws > 1 else 0.0
        row["draws"] = float(draws)
        out[direction] = row
    return out
