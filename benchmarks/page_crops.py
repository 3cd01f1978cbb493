"""Does the way a page is cut into windows hold page identification back? (issue 21, a diagnostic)

    .venv/bin/python benchmarks/page_crops.py            # seed 0's default run, the valid songs

A page query is read as windows along its systems (`ugaar_kit.data.staves.windows_of_page`):
each system's box (its staff with a staff's height above and below) cropped to the ink rows of
the whole system. A training snippet is cropped to its own ink, so the staff sits higher and
larger in it: 0.37 staff heights of margin above the staff at the median against about 0.66 in
a page strip. This runs the page part of `eval --task identify` on the run (its kept store of
the dataset) with the windows cut each way of `VARIANTS` (`system` is `identify`'s own) and
writes `benchmarks/results/pieces/page-crops.json`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from records import DATA, PYTHON, RESULTS, machine, now, write_json

OUT = RESULTS / "pieces"
RUN = OUT / "runs" / "contrastive-s0"
VARIANTS = {
    "system": "as `identify` cuts them: each system's box cropped to the system's ink rows",
    "window-ink": "each window of that strip cropped to its own ink rows, as a snippet is",
    "staff-median": "each system cut around its staff at the median snippet's margins (0.37 and 0.44 staff heights)",
    "staff-wide": "0.75 staff heights each side of the staff, each window then cropped to its own ink rows",
}
"""The ways a page is cut into windows, as the table of docs/benchmarks.md names them."""


def _own_rows(window: np.ndarray) -> np.ndarray:
    """`window` cropped to its ink rows with a margin of 2% of their height (as a snippet is)."""
    from ugaar_kit.data.staves import INK

    rows = np.flatnonzero((window < INK).any(axis=1))
    if rows.size == 0:
        return window
    margin = max(1, round(0.02 * (rows[-1] - rows[0] + 1)))
    return window[max(0, rows[0] - margin) : rows[-1] + 1 + margin]


def _around_staff(image: np.ndarray, system: Any, above: float, below: float) -> np.ndarray:
    """The system cut `above` and `below` staff heights around its staff."""
    height = system.bottom - system.top
    y0 = max(0, round(system.top - above * height))
    y1 = min(image.shape[0], round(system.bottom + 1 + below * height))
    return np.asarray(image, dtype=np.float32)[y0:y1, system.x0 : system.x1]


def cutter(variant: str) -> tuple[Callable[[np.ndarray, Any], np.ndarray], bool]:
    """(how a system becomes a strip, whether each window is cropped to its own ink rows)."""
    from ugaar_kit.data.staves import system_strip

    ways: dict[str, tuple[Callable[[np.ndarray, Any], np.ndarray], bool]] = {
        "system": (system_strip, False),
        "window-ink": (system_strip, True),
        "staff-median": (functools.partial(_around_staff, above=0.37, below=0.44), False),
        "staff-wide": (functools.partial(_around_staff, above=0.75, below=0.75), True),
    }
    return ways[variant]


@contextlib.contextmanager
def pages_cut(variant: str) -> Iterator[None]:
    """Within it, every page query (`ugaar_kit.data.staves.windows_of_page`, which `identify`
    reads a page with) is cut as `variant` says."""
    from ugaar_kit.data import staves

    original = staves.windows_of_page
    strip, own = cutter(variant)

    def windows_of_page(image: np.ndarray, window: float, hop: float, strip: Any = strip) -> Iterator[Any]:
        for w in original(image, window, hop, strip):
            yield dataclasses.replace(w, pixels=_own_rows(w.pixels)) if own else w

    staves.windows_of_page = windows_of_page  # type: ignore[assignment]
    try:
        yield
    finally:
        staves.windows_of_page = original  # type: ignore[assignment]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=RUN, help="a run of benchmarks/pieces.py (its -pieces.h5 beside it)")
    ap.add_argument("--data", type=Path, default=DATA / "lmd-200w")
    ap.add_argument("--split", default="valid", help="the songs whose pages are the queries (default valid)")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    args = ap.parse_args()
    from ugaar_kit.retrieval import piece_eval

    store = args.run.parent / f"{args.run.name}-pieces.h5"
    figures = {}
    for variant in args.variants:
        with pages_cut(variant):
            got = piece_eval.evaluate_pieces(
                args.run, args.data, tasks=["identify"], split=args.split, excerpts=1, store=store
            )
        figures[variant] = got["identify"]["page"]
        print(variant, json.dumps(figures[variant]), flush=True)
    write_json(
        {
            "format": "ugaar-kit-benchmark-page-crops",
            "command": f"{PYTHON} benchmarks/page_crops.py"
            + (f" --split {args.split}" if args.split != "valid" else ""),
            "run": str(args.run),
            "split": args.split,
            "machine": machine(),
            "finished": now(),
            "page": figures,
        },
        OUT / "page-crops.json",
    )


if __name__ == "__main__":
    main()
