"""A piece as it is played: its score's rows in order, each with the seconds it sounds.

`locate` lays a recording on a piece's score, and `identify` aligns a recording with it or a
page with a piece's recordings; both need a piece's rows in order and timed. A piece's score is
the store's windows of its pages in reading order when the store holds them (`page_played`),
each timed where its edges fall on the score (`WholeSong.clock`), else its passage snippets
with their spans (`songs.jsonl`); its pages read anew at `locate`'s narrower windows when their
files are at hand (`pages_read`). `PieceRows` finds a dataset's passages and pages among a
store's rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ugaar_kit.interfaces.dataset import DatasetFolder, WholeSong, read_songs
from ugaar_kit.interfaces.rows import parse_page_window
from ugaar_kit.store.reader import Store

Pages = Callable[[Path], Sequence[tuple[list[tuple[int, int, int]], np.ndarray]] | None]
"""A page of a score (its path) -> for each reading of it (a width of window), its windows
`(system, x0, x1)` (the page's pixels) and their unit vectors `(N, D)`; None when it cannot be
read: `inference.embedding.score.ScorePages`."""


@dataclass(frozen=True)
class Played:
    """One version of a piece as it is played: its stored rows in order (row indices of the
    target modality) and the seconds each sounds from and to (the score's timing, songs.jsonl)."""

    rows: np.ndarray
    starts: np.ndarray
    ends: np.ndarray


def played(song: WholeSong, rows: PieceRows) -> Played | None:
    """`song` as played: the windows of its score pages when the store holds them
    (`page_played`), else the passages it has stored rows of, with their times; None when it
    has neither stored."""
    pages = page_played(song, rows)
    if pages is not None:
        return pages
    found = [(i, r) for i, p in enumerate(song.passages) if (r := rows.row(str(p["id"]))) is not None]
    if not found:
        return None
    times = [song.passages[i] for i, _ in found]
    return Played(
        np.asarray([r for _, r in found], dtype=np.int64),
        np.asarray([float(p["start"]) for p in times]),
        np.asarray([float(p["end"]) for p in times]),
    )


def page_played(song: WholeSong, rows: PieceRows) -> Played | None:
    """`song` as played from the stored windows of its score pages (`embed` cuts a page into
    windows along its systems: `system=N&x=X0-X1`), in reading order, each sounding from and to
    where its edges fall on the score's timing (`WholeSong.clock`); None when none is stored.
    The N-th system found on a page is taken for the N-th system songs.jsonl records there (on
    the 429 pages of the 200-song build every system found is the recorded one)."""
    windows = [
        (number, system, x0, x1, row)
        for number, page in enumerate(song.pages, 1)
        for row, system, x0, x1 in rows.page_windows(page)
    ]
    timed = _reading_order(song, windows)
    if not timed:
        return None
    return Played(
        np.asarray([key for _, _, key in timed], dtype=np.int64),
        np.asarray([a for a, _, _ in timed]),
        np.asarray([b for _, b, _ in timed]),
    )


def pages_read(song: WholeSong, pages: Pages) -> list[tuple[np.ndarray, Played]] | None:
    """`song`'s score pages read anew by `pages` (`inference.embedding.score.ScorePages`, at
    `locate`'s narrower windows), each reading (a width of window) in reading order and timed
    as `page_played` times stored windows: its vectors `(N, D)` and their times (the `rows` of
    the `Played` index the vectors). None when a page cannot be read or none of a reading's
    windows is on a timed system."""
    reads = []
    for page in song.pages:
        read = pages(page)
        if read is None:  # the rest are not read
            return None
        reads.append(read)
    readings = []
    for k in range(min((len(read) for read in reads), default=0)):
        windows: list[tuple[int, int, int, int, int]] = []
        vectors: list[np.ndarray] = []
        for number, read in enumerate(reads, 1):
            first = len(windows)
            windows += [(number, system, x0, x1, first + j) for j, (system, x0, x1) in enumerate(read[k][0])]
            vectors.append(read[k][1])
        timed = _reading_order(song, windows)
        if not timed:
            return None
        order = np.asarray([key for _, _, key in timed], dtype=np.int64)
        starts, ends = np.asarray([a for a, _, _ in timed]), np.asarray([b for _, b, _ in timed])
        readings.append((np.concatenate(vectors)[order], Played(np.arange(len(order)), starts, ends)))
    return readings or None


def score_read(
    song: WholeSong, stored: Callable[[], PieceRows], pages: Pages | None = None
) -> list[tuple[np.ndarray, Played]] | None:
    """`song`'s score as a recording is laid on it: its pages read anew by `pages`
    (`pages_read`, a reading a width) when it has pages and each can be read, else its
    `stored()` rows as played (one reading); None without either. `stored` is called only for
    the stored rows (making `PieceRows` reads the manifest and every stored source)."""
    laid = pages_read(song, pages) if pages is not None and song.pages else None
    if laid is None:
        rows = stored()
        if (order := played(song, rows)) is not None:
            laid = [(rows.vectors(order.rows), order)]
    return laid


def _reading_order(
    song: WholeSong, windows: Sequence[tuple[int, int, int, int, int]]
) -> list[tuple[float, float, int]]:
    """Windows `(page number, system, x0, x1, key)` of `song`'s pages (the page's pixels) as
    `(start, end, key)` in reading order, each sounding from where its left edge to where its
    right edge falls on its system's clock (`WholeSong.clock`); a window on a system without a
    clock is left out."""
    found: list[tuple[int, int, int, float, float, int]] = []
    clocks: dict[tuple[int, int], tuple[list[float], list[float]]] = {}  # (page, system) -> its clock
    for number, system, x0, x1, key in windows:
        if (number, system) not in clocks:
            clocks[number, system] = song.clock(number, system)
        xs, ts = clocks[number, system]
        if xs:
            found.append((number, system, x0, float(np.interp(x0, xs, ts)), float(np.interp(x1, xs, ts)), key))
    found.sort()
    return [(a, b, key) for _, _, _, a, b, key in found]


def piece_orders(store: Store, target: str, data: Path, rows: PieceRows | None = None) -> dict[str, list[Played]]:
    """Each piece of the dataset folder `data` (`songs.jsonl`) -> each of its versions as played
    (`played`): the store's `target` rows of its score pages' windows, or of its passages, in
    order, with their times."""
    rows = rows if rows is not None else PieceRows(store, target, data)
    out: dict[str, list[Played]] = {}
    for song in read_songs(data):
        if (version := played(song, rows)) is not None:
            out.setdefault(song.song, []).append(version)
    return out


def _under_root(table: dict[str, Any], f: str) -> Any:
    """`table`'s entry for the dataset file `f` (relative to the dataset folder), stored as
    given or, when embedded from a folder inside it, without its first part; None if neither."""
    found = table.get(f)
    return found if found is not None else table.get(f.split("/", 1)[1] if "/" in f else f)


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
        self.root = root
        self.rows: dict[str, int] = {}
        self.pages: dict[str, list[tuple[int, int, int, int]]] = {}
        ids = store.ids(target).tolist()
        for i, s in enumerate(store.sources(target).tolist()):
            s = str(s)
            self.rows.setdefault(s, i)
            if "/" in s:
                self.rows.setdefault(s.split("/", 1)[1], i)
            window = parse_page_window(str(ids[i]))
            if window is not None:
                self.pages.setdefault(s, []).append((i, *window))

    def row(self, passage: str) -> int | None:
        f = self.files.get(passage)
        if f is None:
            return None
        return _under_root(self.rows, f)

    def page_windows(self, page: Path) -> list[tuple[int, int, int, int]]:
        """(row, system, x0, x1) of each stored window of the page image `page` (a path)."""
        try:
            f = Path(page).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return []
        return _under_root(self.pages, f) or []

    def vectors(self, rows: np.ndarray | Sequence[int]) -> np.ndarray:
        return self.store.unit_rows(self.target, rows)
