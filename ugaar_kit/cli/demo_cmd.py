"""`ugaar-kit demo`: build, train, evaluate, embed and search on the bundled demo data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from ugaar_kit.cli.base import err_console, out_console
from ugaar_kit.errors import OptionError
from ugaar_kit.interfaces.options import parse_duration
from ugaar_kit.registry.components import Registry


def add(app: typer.Typer, get_registry: Callable[[], Registry]) -> None:
    """Add the `demo` command to the root app."""

    @app.command("demo")
    def demo(
        out: Annotated[Path, typer.Option("--out", help="Folder for everything the demo writes.")] = Path("ugaar-demo"),
        limit_songs: Annotated[
            int | None, typer.Option("--limit-songs", min=1, help="Use only the first N demo songs (quicker).")
        ] = None,
        max_time: Annotated[
            str | None,
            typer.Option(
                "--max-time",
                help="Training budget of each model, e.g. 90s or 2m [default: UGAAR and contrastive 2m, deep CCA 1m].",
                show_default=False,
            ),
        ] = None,
        epochs: Annotated[
            int | None,
            typer.Option(
                min=0, help="A cap on each model's epochs [default: as many as the budget allows].", show_default=False
            ),
        ] = None,
        batch_size: Annotated[int, typer.Option("--batch-size", min=2, help="Items per batch.")] = 64,
        dim: Annotated[int, typer.Option(min=2, help="Output width of every encoder.")] = 16,
        seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
        device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu, cuda or cuda:N.")] = "auto",
        recipe: Annotated[
            Path | None,
            typer.Option(
                help="A recipe (TOML) of the data source, models, store and searches [default: the "
                "built-in ugaar_kit/recipes/demo.toml; copy it to make your own].",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Run the whole job on the redistributable demo data, then show the results.

        Builds the demo dataset (public-domain songs with lyrics from music21's corpus), trains
        a three-modality UGAAR model, a contrastive audio-sheet model on the same budget and an
        audio-lyrics deep CCA model, evaluates each on the test split in every direction (with
        chance and the syllable-count baseline), writes an HDF5 store of the test split and runs
        an audio->sheet and a lyrics search; --recipe runs your own recipe instead. Re-running
        resumes: finished steps are skipped."""
        from ugaar_kit.recipes.demo import RECIPE, Demo, DemoPlan, pieces_lines, results_table, search_tables

        seconds = None
        if max_time is not None:
            try:
                seconds = parse_duration(max_time)
            except ValueError as exc:
                raise OptionError(f"--max-time: {exc}") from None
        plan = DemoPlan(out, limit_songs, epochs, seconds, batch_size, dim, seed, device, recipe or RECIPE)
        result = Demo(plan, get_registry(), console=err_console).run()
        out_console.print(results_table(result))
        for table in search_tables(result):
            out_console.print(table)
        for line in pieces_lines(result):
            out_console.print(line, markup=False)
        out_console.print(f"\nEverything is in {result.out}/:")
        out_console.print(f"  data/            the demo dataset ({result.data})")
        for name in result.runs:
            out_console.print(f"  runs/{name}/  run folder: model.pt, metrics.jsonl, curves.png")
        out_console.print("  plots/           rank histograms and similarity matrices per model")
        out_console.print(f"  test.h5          HDF5 store of the test split ({result.store})")
        out_console.print("  results.json     the tables above as JSON, with each step's seconds")
        if result.store is not None and result.store_run is not None:
            out_console.print("\nSee and hear the store in a web browser (then open the address it prints):")
            out_console.print(
                f"  ugaar-kit serve {result.store} --run {result.store_run} --data {result.data}",
                markup=False,
                soft_wrap=True,
            )
        total = sum(result.seconds.values())
        out_console.print(
            f"Took {total / 60:.1f} minutes: " + ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items())
        )
