"""`ugaar-kit eval`: retrieval figures of a run on a dataset split, as a table or JSON.

The work is `ugaar_kit.retrieval.evaluation.evaluate`; this module gathers the flags, shows the progress
bar and prints the result.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ugaar_kit.cli import params
from ugaar_kit.cli.base import err_console, out_console
from ugaar_kit.infra.progress import progress_bar, reporter
from ugaar_kit.registry.components import Registry


def _value(row: dict[str, Any], key: str, digits: int = 3) -> str:
    """A figure, with its spread over pools (`± std`) when there is one."""
    value = float(row[key])
    text = f"{value:g}" if key == "MedR" else f"{value:.{digits}f}"
    std = row.get(f"{key}_std")
    if std is None:
        return text
    return f"{text} ± {float(std):g}" if key == "MedR" else f"{text} ± {float(std):.{digits}f}"


def results_table(result: dict[str, Any]) -> Table:
    """One row per direction; the syllable-count baseline's MRR and MedR beside lyrics directions."""
    base = result["baselines"].get("syllable_count", {})
    rows = result["directions"]
    pools = {int(r["pool"]) for r in rows.values()}
    pooled = any("MRR_std" in r for r in rows.values())
    how = f"mean ± std over random pools of {pools.pop()}" if pooled else "whole split"
    table = Table(
        title=f"run {result['run']} on the {result['split']} split ({result['items']} items; {how})",
        caption="baseline: rank by |notes - syllables|, ties broken at random" if base else None,
    )
    table.add_column("direction", no_wrap=True)
    for name in ("R@1", "R@5", "R@10", "MRR", "MedR", "pool", "chance MRR", "ceiling MRR"):
        table.add_column(name, justify="right")
    if base:
        table.add_column("baseline MRR", justify="right")
        table.add_column("baseline MedR", justify="right")
    for d, row in rows.items():
        cells = [d] + [_value(row, k) for k in ("R@1", "R@5", "R@10", "MRR", "MedR")]
        cells += [str(int(row["pool"])), f"{float(row['chance_MRR']):.4f}"]
        cells.append(f"{float(row['ceiling_MRR']):.4f}" if "ceiling_MRR" in row else "")
        if base:
            b = base.get(d)
            cells += [_value(b, "MRR", 4), _value(b, "MedR")] if b else ["", ""]
        table.add_row(*cells)
    return table


def pieces_table(result: dict[str, Any]) -> Table:
    """Piece identification (one row per kind of query) and localisation, as `evaluate_pieces` gives them."""
    table = Table(
        title=f"run {result['run']}: {result['songs']} {result['split']} songs among {result['pieces']} pieces",
        caption="identification: the song's own piece among all; localisation: 10-s excerpts in their song's score",
    )
    for name in ("task", "queries", "top-1", "top-5", "MRR"):
        table.add_column(name, justify="left" if name == "task" else "right")
    for kind, row in (result.get("identify") or {}).items():
        if row is None:
            table.add_row(f"identify from {kind}", "-", "", "", "")
        else:
            table.add_row(
                f"identify from {kind}",
                str(row["queries"]),
                f"{row['top1']:.3f}",
                f"{row['top5']:.3f}",
                f"{row['MRR']:.3f}",
            )
    loc = result.get("locate")
    if loc:
        table.add_row("locate: the right passage", str(loc["queries"]), f"{loc['passage']:.3f}", "", "")
        table.add_row("locate: within one system", str(loc["queries"]), f"{loc['system']:.3f}", "", "")
        table.add_row(
            "locate: a passage of the same music", str(loc["queries"]), f"{loc['passage_or_same_music']:.3f}", "", ""
        )
    return table


def add(app: typer.Typer, get_registry: Callable[[], Registry]) -> None:
    """Add the `eval` command to the root app."""

    @app.command("eval")
    def eval_(
        run: params.RunDir,
        data: params.DataDir = None,
        split: Annotated[str, typer.Option("--split", help="Split to evaluate: train, valid or test.")] = "test",
        as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON instead of a table.")] = False,
        pool: Annotated[
            int | None,
            typer.Option(
                "--pool",
                min=1,
                help="Average over random pools of N candidates (comparable across datasets).",
                show_default=False,
            ),
        ] = None,
        draws: Annotated[int, typer.Option("--draws", min=1, help="Random pools drawn with --pool.")] = 10,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the random pools.")] = 0,
        plots: Annotated[
            Path | None,
            typer.Option(
                "--plots",
                help="Write rank histograms and a similarity matrix (PNG) to this folder.",
                show_default=False,
            ),
        ] = None,
        batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Items per encoder batch.")] = 64,
        kinds: Annotated[
            list[str] | None,
            typer.Option(
                "--task",
                help="passages (retrieval of passages, the default), identify (the piece from whole recordings, "
                "10-s excerpts, pages and lyrics) or locate (excerpts in their song's score); repeatable. "
                "identify and locate need a dataset built with --whole-songs.",
                show_default=False,
            ),
        ] = None,
        excerpts: Annotated[
            int, typer.Option("--excerpts", min=1, help="Excerpts per song (identify, locate), at seeded offsets.")
        ] = 5,
        store: Annotated[
            Path | None,
            typer.Option(
                "--store",
                help="identify, locate: keep the dataset's embeddings in this store (resumed) [default: a "
                "temporary one].",
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Embed a dataset split with a run and report retrieval in every direction.

        For every ordered pair of the run's modalities: R@1, R@5, R@10, MRR, median rank, the
        candidate pool and chance; beside lyrics directions the syllable-count baseline on the
        same items and pools. Verbatim repeats of a passage count as one candidate."""
        from ugaar_kit.retrieval.evaluation import evaluate

        if data is None:
            raise typer.BadParameter("give the dataset folder to evaluate on", param_hint="--data")
        tasks = list(dict.fromkeys(kinds or ["passages"]))
        unknown = [t for t in tasks if t not in ("passages", "identify", "locate")]
        if unknown:
            raise typer.BadParameter(f"'{unknown[0]}' (known: passages, identify, locate)", param_hint="--task")
        pieces = [t for t in tasks if t != "passages"]
        if pieces:
            if tasks != pieces:
                raise typer.BadParameter("passages and identify/locate are evaluated apart", param_hint="--task")
            from ugaar_kit.retrieval.piece_eval import evaluate_pieces

            options: dict[str, Any] = {
                "tasks": pieces,
                "split": split,
                "excerpts": excerpts,
                "seed": seed,
                "store": store,
            }
            with progress_bar("embedding the dataset", console=err_console) as bar:
                say_piece = functools.partial(bar.console.print, markup=False, highlight=False)
                found = evaluate_pieces(
                    run, data, registry=get_registry(), say=say_piece, on_progress=reporter(bar), **options
                )
            if as_json:
                typer.echo(json.dumps(found, indent=2))
            else:
                out_console.print(pieces_table(found))
            return
        progress = progress_bar("embedding {task.fields[what]}", console=err_console)
        task = progress.add_task("embed", total=None, what=f"the {split} split")

        def say(message: str) -> None:
            progress.console.print(message, markup=False, highlight=False)

        with progress:
            result = evaluate(
                run,
                data,
                split=split,
                pool=pool,
                draws=draws,
                seed=seed,
                plots=plots,
                batch_size=batch_size,
                registry=get_registry(),
                say=say,
                start=lambda total: progress.update(task, total=total),
                advance=lambda k: progress.advance(task, k),
            )
        if as_json:
            typer.echo(json.dumps(result, indent=2))
        else:
            out_console.print(results_table(result))
