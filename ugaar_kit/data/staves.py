"""Finding the systems on a page of printed music, and cutting windows along them.

A projection profile: staff lines are the rows whose dark pixels run across most of the printed
width. Rows like that are grouped into lines (a line is a few pixels thick), lines into staves
of five evenly spaced lines, and each staff is one system (the songs here are one staff; a
piano system's two staves come out as two). A system's box is its staff with a staff's height
above and below, as `ugaar-kit dataset build --whole-songs` records them; windows along it have
the aspect of a passage snippet, so a page becomes the queries a sheet encoder knows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

INK = 0.5
"""A pixel is ink when darker than this (greyscale in [0, 1], 1 = white)."""
LINE_RUN = 0.15
"""A staff line runs unbroken over at least this much of the printed width."""
PAGE_WINDOW = 6.0
"""Width of a window along a page's system, in heights of the system's strip: about a passage
snippet's (the LMD sample's snippets are 6.7 heights wide at the median, clef included)."""
PAGE_HOP = 3.0
"""Step between windows along a system, in strip heights."""
LOCATE_WINDOWS = (4.0, 3.0)
"""Widths of the windows `locate` reads a piece's score pages with when their files are at hand
(`inference.embedding.score.ScorePages`), in strip heights, each width a reading of the score
whose fits are averaged: narrower than a page query's and a store's (what training page windows
are), so a recording is laid on the score at finer steps. Chosen on the valid songs
(docs/benchmarks.md, "Locating in narrower page windows"): 4 alone against 6 (the store's), then
3 beside 4 (3 seeds: 0.780 -> 0.803); a store holding pages in such windows identified fewer
recordings and excerpts, so the store keeps `PAGE_WINDOW`."""
LOCATE_HOP = 1.0
"""Step between the windows `locate` reads a piece's score pages with, in strip heights."""


@dataclass(frozen=True)
class StaffBox:
    """One system on a page, in pixels: `x0..x1` its staff lines' extent, `top..bottom` the
    first and last staff line, `y0..y1` the box with a staff's height above and below."""

    x0: int
    x1: int
    top: int
    bottom: int
    y0: int
    y1: int

    @property
    def box(self) -> list[int]:
        return [self.x0, self.y0, self.x1, self.y1]


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in a 1-D bool array."""
    padded = np.concatenate([[False], flags, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def find_systems(image: np.ndarray) -> list[StaffBox]:
    """The systems of a greyscale page `(H, W)` in [0, 1] (1 = white), top to bottom; [] when
    no staff of five lines is found."""
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 2 or img.size == 0:
        return []
    ink = img < INK
    cols = np.flatnonzero(ink.any(axis=0))
    if cols.size == 0:
        return []
    width = cols[-1] - cols[0] + 1
    # a thin line falls on one row or, antialiased, on two greyer ones: the darkness of each
    # pair of rows, column by column; a pair is on a line when it is dark without a break over
    # LINE_RUN of the printed width (a short last system too; text, beams and slurs are broken
    # or short), and neighbouring such pairs are one line
    dark = 1.0 - np.clip(img, 0.0, 1.0)
    pair = dark[:-1] + dark[1:] >= 0.7
    need = LINE_RUN * width
    on_line = np.zeros(len(pair), dtype=bool)
    for y in np.flatnonzero(pair.sum(axis=1) >= need):
        on_line[y] = max(stop - start for start, stop in _runs(pair[y])) >= need
    lines = [((a + b) / 2.0, a, b + 1) for a, b in _runs(on_line) if b - a <= 4]
    staves: list[list[tuple[float, int, int]]] = []
    i = 0
    while i + 5 <= len(lines):
        group = lines[i : i + 5]
        gaps = np.diff([c for c, _, _ in group])
        if gaps.min() > 0 and gaps.max() <= 1.3 * gaps.min() + 1:
            staves.append(group)
            i += 5
        else:
            i += 1
    out = []
    h = img.shape[0]
    for group in staves:
        top, bottom = group[0][1], group[-1][2] - 1
        rows = img[group[0][1] : group[-1][2]]
        # columns where the staff lines run: dark on at least five rows (their lines)
        xs = np.flatnonzero((1.0 - np.clip(rows, 0.0, 1.0)).sum(axis=0) >= 2.5)
        if xs.size == 0:
            continue
        height = bottom - top
        out.append(StaffBox(int(xs[0]), int(xs[-1]) + 1, top, bottom, max(0, top - height), min(h, bottom + height)))
    return out


def system_strip(image: np.ndarray, system: StaffBox) -> np.ndarray:
    """The system's box cut from the page and cropped to its ink rows (with a margin of 2% of
    their height, as a snippet is cropped when a dataset is built): greyscale `(h, w)`."""
    img = np.asarray(image, dtype=np.float32)
    strip = img[system.y0 : system.y1, system.x0 : system.x1]
    rows = np.flatnonzero((strip < INK).any(axis=1))
    if rows.size == 0:
        return strip
    margin = max(1, round(0.02 * (rows[-1] - rows[0] + 1)))
    return strip[max(0, rows[0] - margin) : rows[-1] + 1 + margin]


def strip_windows(strip: np.ndarray, aspect: float, hop: float) -> list[tuple[int, int]]:
    """(x0, x1) of windows `aspect` strip-heights wide every `hop` heights along a strip, the
    last one ending at its end; one window when the strip is no wider than a window."""
    h, w = strip.shape
    size, step = max(1, round(aspect * h)), max(1, round(hop * h))
    if w <= size:
        return [(0, w)]
    starts = list(range(0, w - size, step))
    starts.append(w - size)
    return [(s, s + size) for s in dict.fromkeys(starts)]


@dataclass(frozen=True)
class PageWindow:
    """One window along a system of a page: the system (1-based `number`, its `staff` box), the
    window's place in it (the `index`-th, columns `x0..x1` of the strip, `staff.x0 + x` on the
    page) and its greyscale pixels."""

    number: int
    staff: StaffBox
    index: int
    x0: int
    x1: int
    pixels: np.ndarray


def windows_of_page(
    image: np.ndarray,
    window: float = PAGE_WINDOW,
    hop: float = PAGE_HOP,
    strip: Callable[[np.ndarray, StaffBox], np.ndarray] = system_strip,
) -> Iterator[PageWindow]:
    """The windows a page is read with, system by system, top to bottom: each system's `strip`
    cut along by `strip_windows` (`window` strip heights every `hop`). What a page query is
    embedded as (`identify`) and what `--train-page-windows` trains on."""
    for number, staff in enumerate(find_systems(image), 1):
        cut = strip(image, staff)
        for index, (x0, x1) in enumerate(strip_windows(cut, window, hop)):
            yield PageWindow(number, staff, index, x0, x1, cut[:, x0:x1])
