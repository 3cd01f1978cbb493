"""A piece's score pages read in `locate`'s windows, each page embedded once and kept.

A store holds each score page as the windows a page query is read with (`PAGE_WINDOW` = 6
strip heights every 3, what training page windows are), and identification matches against
them. `locate` lays a recording on a piece's pages read in narrower windows instead, at each of
`LOCATE_WINDOWS` (4 and 3) every `LOCATE_HOP` = 1, when their files are at hand: a 10-s excerpt
then holds more of them, each over a shorter stretch, and is placed at finer steps. On the
valid songs of the default runs (3 seeds) localisation went from 0.659 (the stored windows) to
0.763 (4 wide), and to 0.803 with 3 beside 4 (their fits averaged, cuts weighted 0.8); a store
holding pages in such windows identified fewer recordings and excerpts (docs/benchmarks.md,
"Locating in narrower page windows"), so the store keeps the wider ones and `locate` reads the
pages anew.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np

from ugaar_kit.data.staves import LOCATE_HOP, LOCATE_WINDOWS
from ugaar_kit.errors import InputError
from ugaar_kit.inference.embedding.query import page_windows
from ugaar_kit.inference.embedding.settings import TrainedModel
from ugaar_kit.interfaces.modality import SHEET
from ugaar_kit.interfaces.rows import parse_page_window
from ugaar_kit.store.exact import normalize_rows

KEPT_PAGES = 256
"""Pages a `ScorePages` keeps embedded (the least recently read are dropped first)."""

Read = tuple[list[tuple[int, int, int]], np.ndarray]


class ScorePages:
    """Pages of printed music read by `run`'s encoder of `modality` in windows of each of
    `widths` strip heights every `hop`: calling it with a page's path gives, for each width in
    turn, the windows `(system, x0, x1)` (the page's pixels, 1-based systems) and their unit
    vectors `(N, D)`; None when the file is missing or holds no staff (the caller then uses the
    stored windows). Each page is embedded once (the last `KEPT_PAGES` kept)."""

    def __init__(
        self,
        run: TrainedModel,
        modality: str = SHEET,
        widths: Sequence[float] = LOCATE_WINDOWS,
        hop: float = LOCATE_HOP,
        batch_size: int = 64,
    ) -> None:
        self.run, self.modality, self.widths, self.hop, self.batch_size = run, modality, tuple(widths), hop, batch_size
        self.kept: OrderedDict[Path, list[Read] | None] = OrderedDict()

    def __call__(self, page: Path) -> list[Read] | None:
        key = Path(page).resolve()
        if key in self.kept:
            self.kept.move_to_end(key)
            return self.kept[key]
        read = self._read(key)
        self.kept[key] = read
        while len(self.kept) > KEPT_PAGES:
            self.kept.popitem(last=False)
        return read

    def _read(self, page: Path) -> list[Read] | None:
        if not page.is_file():
            return None
        reads = []
        for width in self.widths:
            try:
                embedded = page_windows(self.run, page, self.modality, width, self.hop, self.batch_size)
            except InputError:
                return None
            # `page_windows` labels each window `FILE#system=N&x=X0-X1` and embeds every one
            windows = [cast(tuple[int, int, int], parse_page_window(e.label)) for e in embedded]
            vectors = normalize_rows(np.stack([cast(np.ndarray, e.vector) for e in embedded]).astype(np.float32))
            reads.append((windows, vectors))
        return reads


__all__ = ["KEPT_PAGES", "ScorePages"]
