"""Approximate search: a faiss index per modality, saved beside the store (optional extra `faiss`).

`EMB.h5.<modality>.faiss` holds the index, `EMB.h5.<modality>.faiss.json` what it was built
from (the store's id and revision, rows, parameters, recall@10 against exact search). Search
uses an index only while it matches the store; after the store changes, it falls back to exact
search and says the index is stale. Small stores (under `IVF_MIN_ROWS` rows) get a flat index:
exact search in blocks is as fast there (FINDINGS: even at 10^6 rows, faiss flat was slower
than a blocked numpy matmul on this machine; IVF1024 with nprobe 16 reached recall@10 0.97).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ugaar_kit.errors import MissingExtra as MissingExtra  # re-exported: its home is ugaar_kit.errors
from ugaar_kit.infra.atomic import atomic_path, write_text
from ugaar_kit.store.exact import normalize_rows, top_k
from ugaar_kit.store.reader import Store
from ugaar_kit.store.writer import now

IVF_MIN_ROWS = 20_000
ADD_ROWS = 65536
INSTALL_HINT = "pip install 'ugaar-kit[faiss]'"


def require_faiss() -> Any:
    try:
        import faiss  # type: ignore[import-not-found]
    except ImportError:
        raise MissingExtra(f"faiss is not installed: {INSTALL_HINT}") from None
    return faiss


def index_path(store: Path, modality: str) -> Path:
    store = Path(store)
    return store.with_name(f"{store.name}.{modality}.faiss")


def meta_path(store: Path, modality: str) -> Path:
    p = index_path(store, modality)
    return p.with_name(p.name + ".json")


@dataclass(frozen=True)
class IndexReport:
    modality: str
    rows: int
    kind: str
    recall_at_10: float
    queries: int
    seconds: float
    path: Path


def default_nlist(rows: int) -> int:
    """About 4 * sqrt(rows) lists, with at least 39 training rows per list (faiss's minimum)."""
    return max(1, min(int(4 * math.sqrt(rows)), rows // 39))


def build_index(
    store_path: str | Path,
    modalities: Sequence[str] | None = None,
    *,
    nlist: int | None = None,
    nprobe: int = 16,
    recall_queries: int = 1000,
    seed: int = 0,
) -> list[IndexReport]:
    """Build and save one index per modality; each report gives recall@10 against exact search
    for `recall_queries` stored rows used as queries."""
    faiss = require_faiss()
    store_path = Path(store_path)
    reports = []
    rng = np.random.default_rng(seed)
    with Store(store_path) as store:
        for m in modalities or store.modalities:
            t0 = time.perf_counter()
            emb = store.embeddings(m)
            n, d = int(emb.shape[0]), int(emb.shape[1])
            if n == 0:
                continue
            lists = nlist or default_nlist(n)
            if n < IVF_MIN_ROWS or lists < 2:
                index = faiss.IndexFlatIP(d)
                kind = "flat"
            else:
                quantizer = faiss.IndexFlatIP(d)
                index = faiss.IndexIVFFlat(quantizer, d, lists, faiss.METRIC_INNER_PRODUCT)
                train = np.sort(rng.choice(n, size=min(n, 256 * lists), replace=False))
                index.train(np.ascontiguousarray(normalize_rows(rows_at(emb, train))))
                index.nprobe = nprobe
                kind = f"ivf-flat nlist={lists} nprobe={nprobe}"
            for a in range(0, n, ADD_ROWS):
                index.add(np.ascontiguousarray(normalize_rows(emb[a : a + ADD_ROWS])))
            picks = np.sort(rng.choice(n, size=min(n, recall_queries), replace=False))
            queries = normalize_rows(rows_at(emb, picks))
            _, exact = top_k(queries, emb, 10)
            _, approx = index.search(np.ascontiguousarray(queries), min(10, n))
            recall = float(np.mean([len(set(a) & set(b)) / len(a) for a, b in zip(exact.tolist(), approx.tolist())]))
            path = index_path(store_path, m)
            with atomic_path(path) as tmp:
                faiss.write_index(index, str(tmp))
            meta = {
                "store_id": store.store_id,
                "revision": store.revision,
                "rows": n,
                "modality": m,
                "kind": kind,
                "nprobe": nprobe,
                "recall_at_10": recall,
                "recall_queries": len(picks),
                "built": now(),
            }
            write_text(meta_path(store_path, m), json.dumps(meta, indent=2) + "\n")
            reports.append(IndexReport(m, n, kind, recall, len(picks), time.perf_counter() - t0, path))
    return reports


def rows_at(rows: Any, indices: np.ndarray) -> np.ndarray:
    """`rows[indices]` for sorted `indices`, read block by block (h5py point selection is slow)."""
    out = []
    for a in range(0, int(rows.shape[0]), ADD_ROWS):
        sel = indices[(indices >= a) & (indices < a + ADD_ROWS)]
        if sel.size:
            out.append(np.asarray(rows[a : a + ADD_ROWS])[sel - a])
    return np.concatenate(out) if out else np.zeros((0, int(rows.shape[1])), dtype=np.float32)


def load_index(store: Store, modality: str, notes: list[str] | None = None) -> Any | None:
    """The saved index of `modality` when present, fresh and faiss importable; else None (with
    the reason appended to `notes` when the index exists but cannot be used)."""
    path = index_path(store.path, modality)
    if not path.is_file():
        return None
    say = notes.append if notes is not None else (lambda _m: None)
    try:
        meta = json.loads(meta_path(store.path, modality).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        say(f"{path.name}: no readable metadata beside it; using exact search")
        return None
    if (meta.get("store_id"), meta.get("revision"), meta.get("rows")) != (
        store.store_id,
        store.revision,
        store.rows(modality),
    ):
        say(
            f"{path.name} is stale (the store changed since it was built); using exact search: rebuild it with 'ugaar-kit store index'"
        )
        return None
    try:
        faiss = require_faiss()
    except MissingExtra as exc:
        say(f"{path.name} not used: {exc}")
        return None
    return faiss.read_index(str(path))


def search_index(index: Any, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """`(scores, indices)` `(Q, k)` from a faiss inner-product index over unit rows (missing
    neighbours, index -1, are dropped when a query has fewer than k)."""
    scores, indices = index.search(np.ascontiguousarray(normalize_rows(np.atleast_2d(queries))), k)
    return scores.astype(np.float32), indices.astype(np.int64)
