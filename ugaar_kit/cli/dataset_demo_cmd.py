"""`ugaar-kit dataset demo`: build the redistributable demo dataset from music21's corpus."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ugaar_kit.cli.base import out_console
from ugaar_kit.registry.components import Registry


def add(app: typer.Typer, get_registry: Callable[[], Registry]) -> None:
    """Add the `demo` command to the `dataset` group."""

    @app.command("demo")
    def demo(
        out: Annotated[Path | None, typer.Option("--out", help="Dataset folder to create.", show_default=False)] = None,
        limit: Annotated[
            int | None, typer.Option("--limit", min=1, help="At most this many songs (default: all, about 200).")
        ] = None,
        workers: Annotated[
            int | None, typer.Option("--workers", min=1, help="Build processes (default: the builder's).")
        ] = None,
        list_only: Annotated[
            bool, typer.Option("--list", help="List the songs and their licences; build nothing.")
        ] = False,
    ) -> None:
        """Build the demo dataset: public-domain songs with lyrics from music21's corpus (English
        songs, Bach chorales in German, two Renaissance pieces), read by the `musicxml` source.

        Nothing is downloaded: the scores are those installed with music21. About 1,400 passages;
        see docs/datasets.md for provenance, licences, size and build time."""
        from ugaar_kit.build.demo import build_demo, demo_songs
        from ugaar_kit.interfaces.dataset import Skipped

        source_cls = get_registry().dataset("musicxml")
        if list_only:
            table = Table(title="demo songs")
            table.add_column("song", no_wrap=True)
            table.add_column("language")
            table.add_column("passages", justify="right")
            table.add_column("licence")
            songs = passages = 0
            for song in demo_songs(source_cls, limit):
                if isinstance(song, Skipped):
                    continue
                songs += 1
                passages += len(song.passages)
                table.add_row(song.id, str(song.meta["language"]), str(len(song.passages)), str(song.meta["licence"]))
            out_console.print(table)
            out_console.print(f"{songs} songs, {passages} passages")
            return
        if out is None:
            raise typer.BadParameter("give --out DIR (or --list)", param_hint="--out")
        options: dict[str, Any] = {"workers": workers} if workers is not None else {}
        start = time.perf_counter()
        summary, left_out = build_demo(out, source_cls, limit=limit, **options)
        out_console.print(str(summary))
        if left_out:
            reasons = Counter(
                "duplicates of a song kept" if s.reason.startswith("duplicate") else s.reason for s in left_out
            )
            detail = ", ".join(f"{n} {reason}" for reason, n in reasons.most_common())
            out_console.print(
                f"left out {len(left_out)} corpus files: {detail} ('dataset demo --list' shows the songs)"
            )
        out_console.print(f"demo dataset written to {out} in {time.perf_counter() - start:.0f} s")
