"""Locating a query inside a piece: which passage, and where it is printed.

The query's vectors in order (a recording's windows, lyrics lines) are aligned to the piece's
passages in order (their stored rows of the target modality, sheet snippets by default) by
subsequence dynamic time warping on the cosine distance (librosa's `sequence.dtw`): the whole
query, monotonically, against the stretch of the piece that fits it best. The passage aligned
with the query's middle vector is the answer, with its page, system and box from the dataset's
`songs.jsonl`. A piece with several versions (one song, several LMD files) is aligned to each
and the best-fitting version is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ugaar_kit.errors import InputError
from ugaar_kit.interfaces.dataset import DatasetFolder, WholeSong, read_songs
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

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        unit = self.store.unit(self.target)
        order = np.argsort(rows)
        src = unit if unit is not None else self.store.embeddings(self.target)
        got = np.asarray(src[np.asarray(rows)[order]], dtype=np.float32)
        out = np.empty_like(got)
        out[order] = got
        return out if unit is not None else normalize_rows(out)


def locate(
    store: Store,
    vectors: np.ndarray,
    piece: str,
    data: Path,
    target: str = "sheet",
    songs: list[WholeSong] | None = None,
) -> Location:
    """Where the query `vectors` `(Q, D)` (in order) sit in `piece` (a `song` of the dataset
    folder `data`'s songs.jsonl); InputError when the piece is not there or has no stored rows."""
    songs = songs if songs is not None else read_songs(data)
    versions = [s for s in songs if s.song == piece or s.song_id == piece]
    if not versions:
        raise InputError(data, f"piece '{piece}' is not in its songs.jsonl")
    rows = PieceRows(store, target, data)
    q = normalize_rows(np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1))
    best: Location | None = None
    for song in versions:
        found = [(i, r) for i, p in enumerate(song.passages) if (r := rows.row(str(p["id"]))) is not None]
        if not found:
            continue
        matched, cost = align(q, rows.vectors([r for _, r in found]))
        mid = found[int(matched[len(q) // 2])][0]
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
            first=str(song.passages[found[int(matched[0])][0]]["id"]),
            last=str(song.passages[found[int(matched[-1])][0]]["id"]),
            cost=cost,
        )
        if best is None or here.cost < best.cost:
            best = here
    if best is None:
        raise InputError(store.path, f"no stored {target} rows of piece '{piece}' (embed the dataset's {target} files)")
    return best
