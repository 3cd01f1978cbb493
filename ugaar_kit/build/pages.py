"""Engraving a whole song as score pages, and where each of its passages sits on them.

The song's passages, end to end (`segment.join_lines`), are engraved by verovio with its page
layout (A4, systems broken where they fill the width) and rasterised whole. Verovio's timemap
names the notes that start at each quarter-note position; the positions of the passages' first
notes (`notation.note_quarters`) then say which engraved notes belong to which passage, and the
SVG's noteheads and staff lines where they are: page, system, and a box in the page image's
pixels. A passage that runs over a system break has one box on each system. Each system also
keeps where each of its notes' heads is and which note it is (`EngravedSong.heads`): the
build lays them on the recording's time (`songs.jsonl`'s `clocks`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ugaar_kit.build import engrave
from ugaar_kit.build.notation import note_quarters, passage_to_musicxml
from ugaar_kit.interfaces.score import Passage

PAGE_UNITS = (2100, 2970)
"""Page width and height in verovio units (tenths of a millimetre): A4."""
PAGE_SCALE = 59
"""Verovio's scale (%): an A4 page of 1239 x 1753 pixels, about 150 dpi."""
STAFF_SPACE = 180
"""Verovio's staff space in its units (the distance between two staff lines at scale 100)."""

_SVG = "{http://www.w3.org/2000/svg}"
_TRANSLATE = re.compile(r"translate\(\s*(-?[\d.]+)[ ,]+(-?[\d.]+)\s*\)")
_LINE = re.compile(r"M\s*(-?[\d.]+)\s+(-?[\d.]+)\s*L\s*(-?[\d.]+)\s+(-?[\d.]+)")


@dataclass
class System:
    """One engraved system: its staff lines' extent and the x of each note's head (page units)."""

    x0: float
    x1: float
    top: float
    bottom: float
    heads: dict[str, float] = field(default_factory=dict)


@dataclass
class Page:
    """One page: its SVG and its systems, top to bottom."""

    svg: str
    systems: list[System]
    width_px: float
    height_px: float
    units_px: float
    """Pixels per page unit."""


@dataclass
class Span:
    """Where (part of) a passage sits: 1-based page and system, a pixel box `[x0, y0, x1, y1]`."""

    page: int
    system: int
    box: list[int]
    notes: int

    def record(self) -> dict[str, Any]:
        return {"page": self.page, "system": self.system, "box": self.box}


def _options() -> dict[str, Any]:
    return {
        "breaks": "auto",
        "pageWidth": PAGE_UNITS[0],
        "pageHeight": PAGE_UNITS[1],
        "adjustPageHeight": False,
        "adjustPageWidth": False,
        "header": "none",
        "footer": "none",
        "scale": PAGE_SCALE,
        "svgViewBox": False,
        "svgFormatRaw": True,
        "mnumInterval": 0,
        "pageMarginTop": 100,
        "pageMarginBottom": 100,
        "pageMarginLeft": 100,
        "pageMarginRight": 100,
    }


def _parse_page(svg: str) -> Page:
    root = ET.fromstring(svg)
    width = float(root.get("width", "0").removesuffix("px"))
    height = float(root.get("height", "0").removesuffix("px"))
    inner = root.find(f"{_SVG}svg")
    view = [float(v) for v in (inner.get("viewBox", "") if inner is not None else "").split()]
    units_px = width / view[2] if len(view) == 4 and view[2] else PAGE_SCALE / 100.0
    margin = root.find(f".//{_SVG}g[@class='page-margin']")
    mx, my = 0.0, 0.0
    if margin is not None and (m := _TRANSLATE.search(margin.get("transform", ""))):
        mx, my = float(m.group(1)), float(m.group(2))
    systems = []
    for g in root.iter(f"{_SVG}g"):
        if g.get("class") != "system":
            continue
        xs: list[float] = []
        ys: list[float] = []
        heads: dict[str, float] = {}
        for staff in g.iter(f"{_SVG}g"):
            if staff.get("class") != "staff":
                continue
            for path in staff.findall(f"{_SVG}path"):
                if (m := _LINE.match(path.get("d", ""))) and m.group(2) == m.group(4):
                    xs += [float(m.group(1)), float(m.group(3))]
                    ys.append(float(m.group(2)))
        for note in g.iter(f"{_SVG}g"):
            if note.get("class") != "note" or not note.get("id"):
                continue
            use = next((u for u in note.iter(f"{_SVG}use") if _TRANSLATE.search(u.get("transform", ""))), None)
            if use is not None and (m := _TRANSLATE.search(use.get("transform", ""))):
                heads[str(note.get("id"))] = float(m.group(1)) + mx
        if xs and ys:
            systems.append(System(min(xs) + mx, max(xs) + mx, min(ys) + my, max(ys) + my, heads))
    return Page(svg, systems, width, height, units_px)


def _quarters_of_ids(timemap: list[dict[str, Any]]) -> dict[str, float]:
    """Engraved note id -> the quarter-note position it starts at (tied continuations have none)."""
    out: dict[str, float] = {}
    for event in timemap:
        for nid in event.get("on", []):
            out.setdefault(str(nid), float(event.get("qstamp", 0.0)))
    return out


@dataclass
class EngravedSong:
    """A whole song engraved: its pages, each system's pixel box per page, and each passage's spans."""

    pages: list[Page]
    spans: list[list[Span]]
    heads: list[list[list[tuple[float, int]]]] = field(default_factory=list)
    """Per page, per system, each notehead's x (the page image's pixels) and its note's index in
    the song, left to right (tied continuations, which start no note, left out)."""

    def system_boxes(self) -> list[list[list[int]]]:
        """Per page, each system's pixel box `[x0, y0, x1, y1]` (staff lines, a staff's height
        above and below for ledger lines and lyrics)."""
        return [[_box(p, s, s.x0, s.x1) for s in p.systems] for p in self.pages]

    def located(self, index: int) -> dict[str, Any]:
        """Passage `index`'s place: the span holding most of its notes, and every span."""
        spans = self.spans[index]
        if not spans:
            return {"page": None, "system": None, "box": None, "spans": []}
        main = max(spans, key=lambda s: s.notes)
        return {**main.record(), "spans": [s.record() for s in spans]}

    def clocks(self, times: Sequence[tuple[int, float, float]]) -> list[list[list[list[float]]]]:
        """Per page, per system, knots `[x, seconds]` laying the system on the recording: each
        notehead at its note's onset (`times`: each note's (pitch, onset, duration) in seconds,
        `synth.note_times`), left to right, and the system's right end at the onset of the next
        system's first note (the song's last note's end after the last system). Between knots a
        page's x sounds at the time interpolated linearly (`interfaces.dataset.system_clock`)."""
        printed = [(pn, sn) for pn, page in enumerate(self.heads) for sn in range(len(page)) if page[sn]]
        last_end = max((on + d for _, on, d in times), default=0.0)
        out: list[list[list[list[float]]]] = [[[] for _ in page] for page in self.heads]
        for i, (pn, sn) in enumerate(printed):
            knots: list[list[float]] = []
            for x, note in self.heads[pn][sn]:
                t = float(times[note][1])
                if not knots or (x > knots[-1][0] and t >= knots[-1][1]):
                    knots.append([round(x, 1), round(t, 6)])
            if i + 1 < len(printed):
                following = printed[i + 1]
                end = float(times[self.heads[following[0]][following[1]][0][1]][1])
            else:
                end = last_end
            right = self.pages[pn].systems[sn].x1 * self.pages[pn].units_px
            if right > knots[-1][0]:
                knots.append([round(right, 1), round(end, 6)])
            out[pn][sn] = knots
        return out


def _box(page: Page, system: System, x0: float, x1: float) -> list[int]:
    pad = system.bottom - system.top  # a staff's height above and below
    top, bottom = max(0.0, system.top - pad), system.bottom + pad
    k = page.units_px
    return [round(x0 * k), round(top * k), round(x1 * k), min(round(bottom * k), round(page.height_px))]


def engrave_song(whole: Passage, starts: list[int], *, print_lyrics: bool = False) -> EngravedSong:
    """Engrave `whole` (a song's passages end to end) as pages and locate each passage: `starts`
    holds each passage's first note index in `whole`, ascending. ValueError if it cannot be
    engraved."""
    tk = engrave._toolkit()
    tk.setOptions(_options())
    if not tk.loadData(passage_to_musicxml(whole, print_lyrics=print_lyrics)):
        raise ValueError("verovio could not read the song's MusicXML")
    ids = _quarters_of_ids(tk.renderToTimemap({}))
    pages = [_parse_page(str(tk.renderToSVG(n))) for n in range(1, int(tk.getPageCount()) + 1)]
    quarters = note_quarters(whole)
    note_at = {round(q, 6): i for i, q in reversed(list(enumerate(quarters)))}  # the first note at each position
    bounds = [quarters[i] for i in starts] + [float("inf")]
    # every notehead in reading order: (passage, page, system, x)
    where: list[tuple[int, int, int, float]] = []
    noteheads: list[list[list[tuple[float, int]]]] = [[[] for _ in page.systems] for page in pages]
    for pn, page in enumerate(pages):
        for sn, system in enumerate(page.systems):
            for nid, x in sorted(system.heads.items(), key=lambda kv: kv[1]):
                q = ids.get(nid)
                if q is None:
                    continue
                if (note := note_at.get(round(q, 6))) is not None:
                    noteheads[pn][sn].append((x * page.units_px, note))
                k = int(np.searchsorted(bounds, q + 1e-6, side="right")) - 1
                if 0 <= k < len(starts):
                    where.append((k, pn, sn, x))
    spans: list[list[Span]] = [[] for _ in starts]
    half = STAFF_SPACE / 2
    for k in range(len(starts)):
        heads = [(pn, sn, x) for kk, pn, sn, x in where if kk == k]
        later = [(pn, sn, x) for kk, pn, sn, x in where if kk > k]
        following = min(later) if later else None
        for pn, sn in sorted({(pn, sn) for pn, sn, _ in heads}):
            xs = [x for p, s, x in heads if (p, s) == (pn, sn)]
            system = pages[pn].systems[sn]
            if following is not None and following[:2] == (pn, sn):
                right = following[2] - half
            else:
                right = system.x1
            left = max(system.x0, min(xs) - half)
            spans[k].append(Span(pn + 1, sn + 1, _box(pages[pn], system, left, right), len(xs)))
    return EngravedSong(pages, spans, noteheads)
