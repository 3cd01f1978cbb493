"""Locating a query inside a piece: which passage, and where it is printed.

A piece is its stored rows of the target modality (sheet by default) in the order they are
played, each with its time span in the piece (`retrieval.played`): the windows along the
systems of its score pages when the store holds them (`embed` cuts a page so; each window
sounds from where its left edge to where its right edge falls on the score's timing,
`WholeSong.clock`), else its passage snippets with their spans (`songs.jsonl`). A recording is
laid on the piece's pages read anew in narrower windows when their files are at hand and the
caller gives a reader (`pages`: 4 and 3 strip heights every 1 where a store holds 6 every 3,
two readings whose fits are averaged; on the valid songs, localisation 0.66 -> 0.80). A
recording's windows are laid on that timeline (`timeline`): at the offset where each window's
cosines to the rows it covers, weighted by how much it covers, are highest; the passage
sounding at the query's midpoint is the answer. A short recording is read a second way at each offset (`cut_fit`): cut at the span
of each row that lies in it, the stretch a training page window is paired with, where the fixed
windows are 3.5 s whatever the page window's length (2.6 to 6.2 s). Page windows are what a
score is (a library holds pages, not passages), and what `--train-page-windows` trains on.
Vectors without times (lyrics lines) are aligned to the passages in order by subsequence
dynamic time warping on the cosine distance (`align`, librosa's `sequence.dtw`).
The subsequence DTW of a recording's 5-s windows placed fewer excerpts right (0.3 of 10 where
the timeline placed 0.7: windows straddle passages, and DTW does not know how long a passage
lasts). The answer comes with its page, system and box from `songs.jsonl`; a piece with several
versions (one song, several LMD files) is tried in each and the best fit kept.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ugaar_kit.errors import InputError
from ugaar_kit.interfaces.dataset import WholeSong, read_songs
from ugaar_kit.interfaces.modality import SHEET
from ugaar_kit.retrieval.played import Pages, PieceRows, score_read
from ugaar_kit.store.exact import normalize_rows
from ugaar_kit.store.reader import Store


@dataclass(frozen=True)
class Location:
    """Where a query sits in a piece: the passage at its middle and where that passage is printed,
    the passages the whole query spans, and the alignment's cost (lower is better: the mean
    cosine distance along the DTW path for lyrics lines; for a recording, 1 less the windows'
    mean standardised cosine, which can fall below 0)."""

    piece: str
    song_id: str
    passage: str
    index: int
    passages: int
    page: int | None
    system: int | None
    box: list[int] | None
    first: str
    last: str
    cost: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def align(query: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, float]:
    """Subsequence DTW of unit rows `query` `(Q, D)` against unit rows `reference` `(P, D)` on the
    cosine distance: for each query row, the reference rows it is aligned with (`(Q,)`, the
    median of them), and the path's mean cost."""
    from librosa.sequence import dtw

    cost = np.clip(1.0 - np.asarray(query, np.float64) @ np.asarray(reference, np.float64).T, 0.0, 2.0)
    acc, path = dtw(C=cost, subseq=True)
    path = path[::-1]
    matched = np.array([int(np.median(path[path[:, 0] == q, 1])) for q in range(len(query))])
    return matched, float(cost[path[:, 0], path[:, 1]].mean())


def sequence_cost(sims: np.ndarray) -> float:
    """How well a query's vectors, in order, follow a piece's rows, in order: the mean cosine
    distance along the dynamic-time-warping path of `sims` `(Q, P)` (their cosines, or corrected
    scores), the whole of both when the query has at least as many vectors as the piece has rows
    (a whole recording), else the best stretch of the piece (subsequence DTW, librosa)."""
    from librosa.sequence import dtw

    cost = np.clip(1.0 - np.asarray(sims, np.float64), 0.0, None)
    subseq = cost.shape[0] < cost.shape[1]
    acc, path = dtw(C=cost, subseq=subseq)
    total = float(acc[-1, :].min()) if subseq else float(acc[-1, -1])
    return total / max(1, len(path))


TEMPOS = (1.0,)
"""Tempo factors a query recording may be played at against the score's timing (`timeline`).
The score's own tempo only: with a range (0.8 to 1.25 tried), three windows of a 10-s excerpt
fit best when squeezed onto one passage, and fewer excerpts were placed right."""
OFFSET_STEP = 0.1
"""Seconds between the offsets of the score tried by `timeline`."""


CUT_GRID = 0.25
"""Seconds the edges of the query's cuts (`cut_fit`) are rounded to, so that offsets share cuts."""
CUT_SLACK = 0.5
"""Seconds a reference may reach beyond the query at either end and still be read from a cut."""
MIN_CUT = 1.0
"""Seconds of the query a cut must hold to be read."""
CUT_WEIGHT = 0.8
"""The cuts' share of a recording's fit in `timeline` (the fixed windows have the rest). Chosen
on the valid songs of the three default runs (pages read 4 every 1): 0.5 placed 0.773 of the
excerpts, 0.6 0.780, 0.7 0.788, 0.8 0.793, 1 (the cuts alone) 0.753 (docs/benchmarks.md)."""

Cuts = Callable[[Sequence[tuple[float, float]]], np.ndarray]
"""The query cut at spans (seconds from its start), as unit rows: `inference.embedding.cuts.QueryCuts`."""


def cut_fit(
    cuts: Cuts,
    score: Callable[[np.ndarray], np.ndarray],
    length: float,
    starts: np.ndarray,
    ends: np.ndarray,
    offsets: np.ndarray,
    tempo: float = 1.0,
) -> np.ndarray:
    """At each of `offsets` (the score's seconds where the query, `length` seconds, starts, played
    at `tempo`), the mean over the piece's rows that lie in the query (within `CUT_SLACK`) of
    how the query cut at that row's own span scores it; `score` gives unit cut vectors `(K, D)`
    their scores against every row of the piece `(K, P)` (the rows sounding from `starts` to
    `ends`). `(O,)`, NaN where no row lies in the query. Each span's edges are rounded to
    `CUT_GRID`, so the offsets share their cuts (a 10-s query: a few hundred)."""
    offsets = np.asarray(offsets, np.float64)
    starts, ends = np.asarray(starts, np.float64), np.asarray(ends, np.float64)
    a = (starts[None, :] - offsets[:, None]) / tempo  # (O, P): where each row starts in the query
    b = (ends[None, :] - offsets[:, None]) / tempo
    inside = (a >= -CUT_SLACK) & (b <= length + CUT_SLACK)
    ia = np.rint(np.clip(a, 0.0, length) / CUT_GRID).astype(np.int64)
    ib = np.rint(np.clip(b, 0.0, length) / CUT_GRID).astype(np.int64)
    inside &= (ib - ia) * CUT_GRID >= MIN_CUT
    o, p = np.nonzero(inside)
    fit = np.full(len(offsets), np.nan)
    if not len(o):
        return fit
    spans, which = np.unique(np.stack([ia[o, p], ib[o, p]], axis=1), axis=0, return_inverse=True)
    z = np.asarray(cuts([(float(x) * CUT_GRID, float(y) * CUT_GRID) for x, y in spans]), np.float64)
    scores = np.asarray(score(z), np.float64)[which.reshape(-1), p]
    total = np.bincount(o, weights=scores, minlength=len(offsets))
    count = np.bincount(o, minlength=len(offsets))
    np.divide(total, count, out=fit, where=count > 0)
    return fit


def cuts_extra(
    cuts: Cuts,
    score: Callable[[np.ndarray], np.ndarray],
    spans: Sequence[tuple[float, float]],
    starts: np.ndarray,
    ends: np.ndarray,
) -> Callable[[np.ndarray, float], np.ndarray]:
    """`timeline_fit`'s `extra` for a query cut by `cuts` (its windows at `spans`): `cut_fit`,
    0 where no row lies in the query."""
    length = max(float(b) for _, b in spans)

    def extra(offsets: np.ndarray, tempo: float) -> np.ndarray:
        return np.nan_to_num(cut_fit(cuts, score, length, starts, ends, offsets, tempo), nan=0.0)

    return extra


def standardised(vectors: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Each of `vectors`' cosines to the unit rows `reference`, standardised over those rows
    (its preferences among them, not its overall level): `(Q, P)`."""
    sims = np.asarray(vectors, np.float64) @ np.asarray(reference, np.float64).T
    if sims.shape[1] > 1:
        sims = (sims - sims.mean(axis=1, keepdims=True)) / (sims.std(axis=1, keepdims=True) + 1e-9)
    return sims


Reading = tuple[np.ndarray, np.ndarray, np.ndarray]
"""One reading of a piece's score: its unit rows `(P, D)` in order and when each sounds (starts,
ends: seconds, the score's timing)."""


def timeline(
    query: np.ndarray,
    spans: Sequence[tuple[float, float]],
    readings: Sequence[Reading],
    tempos: Sequence[float] = TEMPOS,
    step: float = OFFSET_STEP,
    cuts: Cuts | None = None,
) -> tuple[float, float, float]:
    """The offset into the score (seconds) and the tempo factor at which a timed query fits the
    piece best, and the fit's cost (1 less the fit: the windows' mean standardised cosine; with
    `cuts`, weighted with the cuts', `CUT_WEIGHT` to them). `query` `(Q, D)` are unit rows of
    windows at `spans` (seconds from the query's start); `readings` one or more readings of the
    piece (passages, page windows, pages read in windows of several widths), whose fits at each
    offset are averaged. Each window's cosines are standardised over a reading's rows (its
    preferences among them, not its overall level), then laid on the score by `timeline_fit`.
    With `cuts` (the query cut at any span) each offset also scores the query cut at the span
    of each row that lies in it (`cut_fit`), scored the same way: a training page window is
    paired with the stretch its notes sound in, so the cut of its span is what the model learnt
    to match (the default runs' 3 seeds: localisation 0.649 -> 0.672 on the test songs, 0.612
    -> 0.647 on the valid ones; docs/benchmarks.md)."""
    layers = []
    for reference, starts, ends in readings:
        extra = None
        if cuts is not None:
            extra = cuts_extra(cuts, functools.partial(standardised, reference=reference), spans, starts, ends)
        layers.append((standardised(query, reference), starts, ends, extra))
    fit, offset, tempo = layered_fit(layers, spans, tempos, step, CUT_WEIGHT)
    return offset, tempo, 1.0 - fit


Layer = tuple[np.ndarray, np.ndarray, np.ndarray, Callable[[np.ndarray, float], np.ndarray] | None]
"""A reading as `layered_fit` lays it: the query windows' scores against its rows `(Q, P)`, the
rows' starts and ends, and `extra` (the cuts' fit at offsets and a tempo, `(O,)`) or None."""


def timeline_fit(
    sims: np.ndarray,
    spans: Sequence[tuple[float, float]],
    starts: np.ndarray,
    ends: np.ndarray,
    tempos: Sequence[float] = TEMPOS,
    step: float = OFFSET_STEP,
    extra: Callable[[np.ndarray, float], np.ndarray] | None = None,
    extra_weight: float = 0.5,
) -> tuple[float, float, float]:
    """The best fit of windows at `spans` on references (rows of a piece) sounding from `starts`
    to `ends`, given their scores `sims` `(Q, P)`: (fit, offset, tempo). A window laid on the
    score at offset o and tempo r covers `[o + r a, o + r b)`. On passages, which follow one
    another, it scores the mean of the passages' scores weighted by how much of it each covers.
    On references that overlap (a page's windows, each over half of the next) it scores what
    the references centred nearest its centre score, interpolated between them (`overlapping`):
    weighted by cover, each window would average the two or three under it and blur where it is
    (on the valid songs' excerpts, seed 0, localisation 0.47 by cover, 0.60 so). The fit is the
    windows' mean (with `extra`, `extra(offsets, tempo)` `(O,)` weighted `extra_weight` and the
    windows' mean the rest), at the best offset and tempo."""
    return layered_fit([(sims, starts, ends, extra)], spans, tempos, step, extra_weight)


def layered_fit(
    layers: Sequence[Layer],
    spans: Sequence[tuple[float, float]],
    tempos: Sequence[float] = TEMPOS,
    step: float = OFFSET_STEP,
    extra_weight: float = 0.5,
) -> tuple[float, float, float]:
    """`timeline_fit` of several readings of a piece at once: at each offset and tempo, the mean
    of each reading's fit; (fit, offset, tempo) at the best."""
    a = np.array([w[0] for w in spans], dtype=np.float64)
    b = np.array([w[1] for w in spans], dtype=np.float64)
    length = float(b.max())
    laid_out = [
        (np.asarray(sims, np.float64), np.asarray(starts, np.float64), np.asarray(ends, np.float64), extra)
        for sims, starts, ends, extra in layers
    ]
    first = min(float(starts.min()) for _, starts, _, _ in laid_out)
    last_end = max(float(ends.max()) for _, _, ends, _ in laid_out)
    best = (-np.inf, first, 1.0)
    for r in tempos:
        last = max(first, last_end - r * length)
        offsets = np.arange(first, last + step / 2, step)
        fit = np.zeros(len(offsets))
        for sims, starts, ends, extra in laid_out:
            laid = _windows_fit(sims, a, b, starts, ends, offsets, r)
            if extra is not None:
                laid = (1.0 - extra_weight) * laid + extra_weight * extra(offsets, r)
            fit += laid / len(laid_out)
        k = int(np.argmax(fit))
        if fit[k] > best[0]:
            best = (float(fit[k]), float(offsets[k]), r)
    return best


def _windows_fit(
    sims: np.ndarray, a: np.ndarray, b: np.ndarray, starts: np.ndarray, ends: np.ndarray, offsets: np.ndarray, r: float
) -> np.ndarray:
    """`timeline_fit`'s windows' mean at each of `offsets` `(O,)`, tempo `r`."""
    if overlapping(starts, ends):
        order = np.argsort((starts + ends) / 2, kind="stable")
        centres, by_centre = ((starts + ends) / 2)[order], sims[:, order]
        at = offsets[:, None] + r * (a + b)[None, :] / 2  # (O, Q): each window's centre on the score
        return np.mean([np.interp(at[:, q], centres, by_centre[q]) for q in range(len(a))], axis=0)
    lo = offsets[:, None, None] + r * a[None, :, None]  # (O, Q, 1)
    hi = offsets[:, None, None] + r * b[None, :, None]
    cover = np.clip(np.minimum(hi, ends[None, None, :]) - np.maximum(lo, starts[None, None, :]), 0.0, None)
    # (O, Q, P): how much of each window each passage covers, as shares of what is covered
    cover /= np.maximum(cover.sum(axis=2, keepdims=True), 1e-9)
    return (cover * sims[None, :, :]).sum(axis=2).mean(axis=1)


def overlapping(starts: np.ndarray, ends: np.ndarray) -> bool:
    """True when references sounding from `starts` to `ends` overlap one another by more than a
    tenth of a second (a page's windows), False when they follow one another (passages)."""
    order = np.argsort(starts, kind="stable")
    return bool(np.any(np.asarray(ends)[order][:-1] > np.asarray(starts)[order][1:] + 0.1))


def locate(
    store: Store,
    vectors: np.ndarray,
    piece: str,
    data: Path,
    target: str = SHEET,
    songs: list[WholeSong] | None = None,
    spans: Sequence[tuple[float, float]] | None = None,
    rows: PieceRows | None = None,
    cuts: Cuts | None = None,
    pages: Pages | None = None,
) -> Location:
    """Where the query `vectors` `(Q, D)` (in order) sit in `piece` (a `song` of the dataset
    folder `data`'s songs.jsonl); InputError when the piece is not there or has no stored rows.

    With `spans` (each vector's window, seconds from the query's start: a recording) the query
    is laid on the score's timing (`timeline`: an offset and a tempo factor) and the passage
    sounding at its midpoint is the answer; without (lyrics lines), `align` (subsequence DTW)
    and the passage matched with its middle vector.

    `rows`: the `PieceRows` of `store`, `target` and `data` when the caller locates many
    queries (made here otherwise, when first needed: it reads the manifest and every stored
    source). `cuts`: the recording cut at any span (`inference.embedding.cuts.query_cuts`),
    read beside its windows by `timeline`. `pages`: a recording located in the sheet is laid
    on the piece's score pages read anew by it (`inference.embedding.score.ScorePages`:
    windows narrower than a store's) when each of them can be read, else on the stored rows."""
    songs = songs if songs is not None else read_songs(data)
    versions = [s for s in songs if s.song == piece or s.song_id == piece]
    if not versions:
        raise InputError(data, f"piece '{piece}' is not in its songs.jsonl")
    stored = functools.cache(lambda: rows if rows is not None else PieceRows(store, target, data))
    read_anew = pages is not None and spans is not None and target == SHEET
    q = normalize_rows(np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1))
    best: Location | None = None
    for song in versions:
        laid = score_read(song, stored, pages if read_anew else None)
        if not laid:
            continue
        if spans is not None:
            readings = [(rows_read, o.starts, o.ends) for rows_read, o in laid]
            offset, tempo, cost = timeline(q, spans, readings, cuts=cuts)
            length = max(b for _, b in spans)
            times = offset + tempo * np.array([0.0, length / 2, length - 1e-6])
        else:
            reference, order = laid[0]  # lyrics lines: the stored rows, one reading
            matched, cost = align(q, reference)
            times = (order.starts[matched] + order.ends[matched]) / 2
        passage_of = [song.passage_at(float(t)) for t in times]
        mid = passage_of[len(passage_of) // 2]
        p = song.passages[mid]
        here = Location(
            piece=song.song,
            song_id=song.song_id,
            passage=str(p["id"]),
            index=mid,
            passages=len(song.passages),
            page=p.get("page"),
            system=p.get("system"),
            box=p.get("box"),
            first=str(song.passages[passage_of[0]]["id"]),
            last=str(song.passages[passage_of[-1]]["id"]),
            cost=cost,
        )
        if best is None or here.cost < best.cost:
            best = here
    if best is None:
        raise InputError(store.path, f"no stored {target} rows of piece '{piece}' (embed the dataset's {target} files)")
    return best
