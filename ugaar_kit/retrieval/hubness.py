"""Hubness correction for matching across modalities (CSLS: Conneau et al., "Word translation
without parallel data", ICLR 2018).

In a shared space a few rows lie near very many queries of the other modality whatever they
hold: these hubs win votes they do not deserve. A row's hubness is its mean cosine to its `k`
nearest rows of the query's modality in the same store; a hit is scored by its cosine minus
`HUB_WEIGHT` times its hubness (CSLS ranks by 2 cos - r(row) - r(query), and the query's term is
the same for all its hits). Chosen on the valid songs of the 200-song `--whole-songs` build
(passages-only contrastive runs, seeds 0 and 1, 27 songs): 10-s excerpt -> piece top-1 0.40 and
0.41 by plain votes, 0.45 and 0.44 corrected; whole recordings' votes 0.63 and 0.67 -> 0.70 and
0.74 (`ugaar-kit identify`, `eval --task identify`).
"""

from __future__ import annotations

import numpy as np

from ugaar_kit.interfaces.modality import SHEET
from ugaar_kit.interfaces.rows import parse_page_window
from ugaar_kit.store.exact import top_k
from ugaar_kit.store.reader import Store

HUB_K = 10
"""Nearest rows of the query's modality a row's hubness is the mean cosine of."""
HUB_WEIGHT = 0.5
"""What a hit's score loses per unit of its row's hubness (CSLS's weight, halved with its 2)."""
MAX_PAIRS = 4_000_000_000
"""Row pairs scored exactly (target rows times query-modality rows); a larger store's hubness is
measured against a seeded sample of the query modality's rows."""
TARGET_BLOCK = 65_536
"""Target rows read and scored at a time (bounded memory)."""


def hubness(store: Store, target: str, other: str, k: int = HUB_K, max_pairs: int = MAX_PAIRS) -> np.ndarray | None:
    """Each stored `target` row's mean cosine to its `k` nearest stored `other` rows `(N,)`
    (float32), or None when the store holds no rows of one of the two."""
    if target == other or target not in store.modalities or other not in store.modalities:
        return None
    n_target, n_other = store.rows(target), store.rows(other)
    if n_target == 0 or n_other == 0:
        return None
    others = store.unit_rows(other, slice(0, n_other))
    if n_target * n_other > max_pairs:
        keep = max(k * 100, max_pairs // n_target)
        pick = np.sort(np.random.default_rng(0).choice(n_other, size=min(n_other, keep), replace=False))
        others = others[pick]
    out = np.empty(n_target, dtype=np.float32)
    for a in range(0, n_target, TARGET_BLOCK):
        rows = store.unit_rows(target, slice(a, min(n_target, a + TARGET_BLOCK)))
        scores, _ = top_k(rows, others, k, unit=True)
        out[a : a + len(rows)] = scores.mean(axis=1)
    return out


def applies(query_modality: str, store: Store | None = None) -> bool:
    """Whether queries of this modality are corrected: pages of a score only when the `store`
    holds windows of pages (`holds_pages`). A row's hubness is measured against the stored rows
    of the query's modality, which a recording's windows resemble (stored recordings) and a
    page's windows resemble only where pages were stored: against single-line snippets alone,
    page -> piece top-1 on the valid songs fell from 0.42 to 0.29 corrected (an early
    page-window model, seed 0) and from 0.10 to 0.04 (passages only); with the pages' windows
    stored it rose (0.92, 0.96, 0.94 -> 0.96, 0.98, 0.98 by votes, the page-window runs' seeds
    0, 1, 2)."""
    if query_modality != SHEET:
        return True
    return store is not None and holds_pages(store)


def holds_pages(store: Store) -> bool:
    """Whether the store holds windows of score pages (`FILE#system=N&x=X0-X1` rows)."""
    return SHEET in store.modalities and any(parse_page_window(str(i)) is not None for i in store.ids(SHEET).tolist())


def penalty(store: Store, target: str, other: str) -> np.ndarray | None:
    """What each `target` row's cosine loses when matched by a query of `other` (`HUB_WEIGHT`
    times its `hubness`), or None when it cannot be measured."""
    hub = hubness(store, target, other)
    return None if hub is None else HUB_WEIGHT * hub
