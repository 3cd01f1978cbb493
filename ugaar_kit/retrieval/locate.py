"""Locating a query inside a piece: which passage, and where it is printed.

A piece's passages are their stored rows of the target modality (sheet snippets by default),
with their time spans in the piece (`songs.jsonl`). A recording's windows are laid on that
timeline (`timeline`): at the offset where each window's cosines to the passages it covers,
weighted by how much it covers, are highest; the passage sounding at the query's midpoint is
the answer. Vectors without times (lyrics lines) are aligned to the passages in order by
subsequence dynamic time warping on the cosine distance (`align`, librosa's `sequence.dtw`).
The subsequence DTW of a recording's 5-s windows placed fewer excerpts right (0.3 of 10 where
the timeline placed 0.7: windows straddle passages, and DTW does not know how long a passage
lasts). The answer comes with its page, system and box from `songs.jsonl`; a piece with several
versions (one song, several LMD files) is tried in each and the best fit kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ugaar_kit.errors import InputError
from ugaar_kit.interfaces.dataset import DatasetFolder, WholeSong, read_songs
from ugaar_kit.interfaces.modality import SHEET
from ugaar_kit.store.exact import normalize_rows
from ugaar_kit.store.reader import Store


@dataclass(frozen=True)
class Location:
    """Where a query sits in a piece: the passage at its middle and where that passage is printed,
    the passages the whole query spans, and the alignment's mean cosine distance."""

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


@dataclass(frozen=True)
class Played:
    """One version of a piece as it is played: its stored rows in order (row indices of the
    target modality) and the seconds each sounds from and to (the score's timing, songs.jsonl)."""

    rows: np.ndarray
    starts: np.ndarray
    ends: np.ndarray


def played(song: WholeSong, rows: PieceRows) -> tuple[np.ndarray, Played] | None:
    """`song` as played, from the passages it has stored rows of: their indices in
    `song.passages` and their `Played` (rows and times); None when it has none stored."""
    found = [(i, r) for i, p in enumerate(song.passages) if (r := rows.row(str(p["id"]))) is not None]
    if not found:
        return None
    index = np.asarray([i for i, _ in found], dtype=np.int64)
    times = [song.passages[i] for i in index]
    return index, Played(
        np.asarray([r for _, r in found], dtype=np.int64),
        np.asarray([float(p["start"]) for p in times]),
        np.asarray([float(p["end"]) for p in times]),
    )


def piece_orders(store: Store, target: str, data: Path, rows: PieceRows | None = None) -> dict[str, list[Played]]:
    """Each piece of the dataset folder `data` (`songs.jsonl`) -> each of its versions as played:
    the store's `target` rows of its passages in order, with their times."""
    rows = rows if rows is not None else PieceRows(store, target, data)
    out: dict[str, list[Played]] = {}
    for song in read_songs(data):
        if (version := played(song, rows)) is not None:
            out.setdefault(song.song, []).append(version[1])
    return out


TEMPOS = (1.0,)
"""Tempo factors a query recording may be played at against the score's timing (`timeline`).
The score's own tempo only: with a range (0.8 to 1.25 tried), three windows of a 10-s excerpt
fit best when squeezed onto one passage, and fewer excerpts were placed right."""
OFFSET_STEP = 0.1
"""Seconds between the offsets of the score tried by `timeline`."""


def timeline(
    query: np.ndarray,
    spans: Sequence[tuple[float, float]],
    reference: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    tempos: Sequence[float] = TEMPOS,
    step: float = OFFSET_STEP,
) -> tuple[float, float, float]:
    """The offset into the score (seconds) and the tempo factor at which a timed query fits the
    passages best, and the fit's mean cosine distance. `query` `(Q, D)` are unit rows of windows
    at `spans` (seconds from the query's start), `reference` `(P, D)` unit rows of passages
    sounding from `starts` to `ends` (the score's timing, as songs.jsonl records it). Each
    window's cosines are standardised over the passages (its preferences among them, not its
    overall level), then laid on the score by `timeline_fit`."""
    sims = np.asarray(query, np.float64) @ np.asarray(reference, np.float64).T  # (Q, P)
    if sims.shape[1] > 1:
        sims = (sims - sims.mean(axis=1, keepdims=True)) / (sims.std(axis=1, keepdims=True) + 1e-9)
    fit, offset, tempo = timeline_fit(sims, spans, starts, ends, tempos, step)
    return offset, tempo, 1.0 - fit


def timeline_fit(
    sims: np.ndarray,
    spans: Sequence[tuple[float, float]],
    starts: np.ndarray,
    ends: np.ndarray,
    tempos: Sequence[float] = TEMPOS,
    step: float = OFFSET_STEP,
) -> tuple[float, float, float]:
    """The best fit of windows at `spans` on passages sounding from `starts` to `ends`, given
    their scores `sims` `(Q, P)`: (fit, offset, tempo). A window laid on the score at offset o and
    tempo r covers `[o + r a, o + r b)`; it scores the mean of the passages' scores weighted by
    how much of it each covers; the fit is the windows' mean, at the best offset and tempo."""
    sims = np.asarray(sims, np.float64)
    a = np.array([w[0] for w in spans], dtype=np.float64)
    b = np.array([w[1] for w in spans], dtype=np.float64)
    length = float(b.max())
    best = (-np.inf, float(starts[0]), 1.0)
    for r in tempos:
        last = max(float(starts[0]), float(ends[-1]) - r * length)
        offsets = np.arange(float(starts[0]), last + step / 2, step)
        lo = offsets[:, None, None] + r * a[None, :, None]  # (O, Q, 1)
        hi = offsets[:, None, None] + r * b[None, :, None]
        cover = np.clip(np.minimum(hi, ends[None, None, :]) - np.maximum(lo, starts[None, None, :]), 0.0, None)
        cover /= (r * np.maximum(b - a, 1e-9))[None, :, None]  # (O, Q, P): the share of each window on each passage
        fit = (cover * sims[None, :, :]).sum(axis=2).mean(axis=1)  # (O,)
        k = int(np.argmax(fit))
        if fit[k] > best[0]:
            best = (float(fit[k]), float(offsets[k]), r)
    return best


class PieceRows:
    """The stored rows of a dataset's passages, by passage id, for one target modality: a
    passage's file (its manifest row's) found among the store's sources, which are relative to
    what was embedded (the dataset folder, or folders inside it)."""

    def __init__(self, store: Store, target: str, data: Path) -> None:
        self.store, self.target = store, target
        root = Path(data).resolve()
        self.files: dict[str, str] = {}
        for item in DatasetFolder(Path(data)).items:
            f = item.inputs.get(target)
            if isinstance(f, Path):
                self.files[item.id] = f.resolve().relative_to(root).as_posix()
        self.rows: dict[str, int] = {}
        for i, s in enumerate(store.sources(target).tolist()):
            s = str(s)
            self.rows.setdefault(s, i)
            if "/" in s:
                self.rows.setdefault(s.split("/", 1)[1], i)

    def row(self, passage: str) -> int | None:
        f = self.files.get(passage)
        if f is None:
            return None
        found = self.rows.get(f)
        return found if found is not None else self.rows.get(f.split("/", 1)[1] if "/" in f else f)

    def vectors(self, rows: np.ndarray | Sequence[int]) -> np.ndarray:
        return self.store.unit_rows(self.target, rows)


def locate(
    store: Store,
    vectors: np.ndarray,
    piece: str,
    data: Path,
    target: str = SHEET,
    songs: list[WholeSong] | None = None,
    spans: Sequence[tuple[float, float]] | None = None,
    rows: PieceRows | None = None,
) -> Location:
    """Where the query `vectors` `(Q, D)` (in order) sit in `piece` (a `song` of the dataset
    folder `data`'s songs.jsonl); InputError when the piece is not there or has no stored rows.

    With `spans` (each vector's window, seconds from the query's start: a recording) the query
    is laid on the score's timing (`timeline`: an offset and a tempo factor) and the passage
    sounding at its midpoint is the answer; without (lyrics lines), `align` (subsequence DTW)
    and the passage matched with its middle vector.

    `rows`: the `PieceRows` of `store`, `target` and `data` when the caller locates many
    queries (made here otherwise: it reads the manifest and every stored source)."""
    songs = songs if songs is not None else read_songs(data)
    versions = [s for s in songs if s.song == piece or s.song_id == piece]
    if not versions:
        raise InputError(data, f"piece '{piece}' is not in its songs.jsonl")
    rows = rows if rows is not None else PieceRows(store, target, data)
    q = normalize_rows(np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1))
    best: Location | None = None
    for song in versions:
        version = played(song, rows)
        if version is None:
            continue
        index, order = version
        reference = rows.vectors(order.rows)
        if spans is not None:
            offset, tempo, cost = timeline(q, spans, reference, order.starts, order.ends)
            length = max(b for _, b in spans)

            times = offset + tempo * np.array([0.0, length / 2, length - 1e-6])
            matched = np.minimum(np.searchsorted(order.ends, times, side="right"), len(order.ends) - 1)
        else:
            matched, cost = align(q, reference)
        mid = int(index[matched[len(matched) // 2]])
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
            first=str(song.passages[int(index[matched[0]])]["id"]),
            last=str(song.passages[int(index[matched[-1]])]["id"]),
            cost=cost,
        )
        if best is None or here.cost < best.cost:
            best = here
    if best is None:
        raise InputError(store.path, f"no stored {target} rows of piece '{piece}' (embed the dataset's {target} files)")
    return best
