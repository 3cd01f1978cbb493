"""`ugaar-kit identify`: which piece a recording, a page of a score or a song's lyrics comes from.

The query's vectors (a recording's windows, a page's windows along its systems, the lines of a
lyrics file or the --text lines) are made by `ugaar_kit.inference.embedding` and ranked into
pieces by `ugaar_kit.retrieval.identify`; this module only gathers and prints. (No `from
__future__ import annotations`: Typer reads the parameter types.)
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ugaar_kit.cli import params
from ugaar_kit.cli.base import err_console, out_console
from ugaar_kit.registry.components import Registry

QUERY_HELP = (
    "Query files, each one query: a recording (any length), a page of a score (PNG or JPEG), or a lyrics text "
    "file (each line a vector)."
)


def add(app: typer.Typer, get_registry: Callable[[], Registry]) -> None:
    """Add the `identify` command to the root app."""

    @app.command("identify")
    def identify(
        index: params.StoreIndex,
        run: params.StoreRun,
        query: Annotated[list[Path] | None, params.files(QUERY_HELP)] = None,
        text: params.LyricsLines = None,
        data: Annotated[
            Path | None,
            typer.Option(
                "--data",
                help="The dataset folder the store's files come from: its songs are the pieces (versions of one "
                "song are one piece) [default: the folder holding each stored file].",
                show_default=False,
            ),
        ] = None,
        target: Annotated[
            str | None,
            typer.Option(
                "--target",
                help="The stored modality to match against; never the query's own [default: sheet for a "
                "recording, audio for a page or lyrics].",
                show_default=False,
            ),
        ] = None,
        aggregate: Annotated[
            str,
            typer.Option(
                "--aggregate",
                help="votes: each vector's k nearest rows vote for their pieces, a piece's votes divided by its "
                "number of stored rows; counts: the votes alone; similarity: the sum over the vectors of each "
                "piece's best cosine among them; sequence: the 10 pieces best by votes ranked by how well the "
                "query's windows, in order, follow each piece's score, in order (needs --data: its stored page "
                "windows in reading order, else its passages), or a page's windows the best stretch of each "
                "piece's stored recordings (their windows in time order; plus a tenth of its share of the "
                "votes); timeline (needs --data, a recording): the 10 pieces "
                "best by votes ranked by how well the windows (and, for 30 s or less, the recording cut at each "
                "page window's span) fit each piece's score laid on its timing, at the best offset; auto: with "
                "--data, sequence for a recording of 8 windows or more, timeline for a shorter one; sequence for "
                "a page when the store holds recordings in windows; else votes.",
            ),
        ] = "auto",
        hubness: Annotated[
            bool,
            typer.Option(
                "--hubness/--no-hubness",
                help="Score each hit by its cosine less half its row's hubness (its mean cosine to its 10 nearest "
                "rows of the query's modality in the store: rows near everything lose their unearned votes). "
                "For recordings and lyrics; for pages when the store holds pages' windows (a page's windows are "
                "unlike stored snippets alone). Measured once a command, against a sample of the query modality's rows in a "
                "large store; search is exact then, faiss index or not.",
            ),
        ] = True,
        k: Annotated[int, typer.Option("-k", help="Nearest rows each vector votes with.", min=1, max=1000)] = 10,
        top: Annotated[int, typer.Option("--top", help="Pieces shown per query.", min=1)] = 5,
        page_window: Annotated[
            float,
            params.number("--page-window", "Width of the windows along a page's systems, in system heights.", 0.5, 100),
        ] = 6.0,
        page_hop: Annotated[
            float, params.number("--page-hop", "Step between windows along a system, in system heights.", 0.1, 100)
        ] = 3.0,
        exact: Annotated[bool, typer.Option("--exact", help="Exact search even where a faiss index exists.")] = False,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print one JSON object per query, a line each (JSON lines).")
        ] = False,
        device: params.Device = None,
    ) -> None:
        """Identify the piece each query comes from: its vectors are matched against the store's
        rows of another modality (a recording is never matched against recordings) and the
        nearest rows vote for their pieces.

        A recording is cut into the store's windows (any length: read a block at a time); on a
        page the systems are found (five-line staves) and windows cut along each; a lyrics file
        gives one vector a line. Pieces are songs with --data DATASET (a built dataset folder,
        its songs.jsonl too), else the folders holding the stored files. A query that cannot be
        used is reported and skipped (exit code 1)."""
        from ugaar_kit.errors import InputError, OptionError
        from ugaar_kit.infra.progress import progress_bar
        from ugaar_kit.retrieval.identify import AGGREGATE_CHOICES, dataset_pieces
        from ugaar_kit.retrieval.queries import identify_job, load_run, query_jobs, recording_cuts
        from ugaar_kit.store.reader import Store

        if not query and not text:
            raise OptionError("give a query: files, or --text lines")
        if aggregate not in AGGREGATE_CHOICES:
            raise OptionError(f"--aggregate {aggregate}: unknown (known: {', '.join(AGGREGATE_CHOICES)})")
        table = dataset_pieces(data) if data is not None else None
        skipped: list[tuple[str, str]] = []
        results = []
        notes: list[str] = []
        with Store(index) as store:
            loaded = load_run(store, run, get_registry(), device)
            jobs = query_jobs(loaded, store, query or [], text or [], page_window, page_hop)
            sizes: dict[str, Any] = {}
            with progress_bar(console=err_console, enabled=len(jobs) > 1, unit="queries") as bar:
                task = bar.add_task("identifying", total=len(jobs))
                for job in jobs:
                    try:
                        payload, problems = identify_job(
                            store,
                            job,
                            target,
                            table,
                            sizes,
                            k=k,
                            aggregate=aggregate,
                            top=top,
                            exact=exact,
                            notes=notes,
                            hubness=hubness,
                            data=data,
                            cuts=recording_cuts(loaded, job[0], job[1]),
                        )
                    except InputError as exc:
                        if len(jobs) == 1:
                            raise
                        payload, problems = None, [(job[0], exc.problem)]
                    skipped += problems
                    if payload is not None:
                        results.append(payload)
                    bar.advance(task)
        for note in dict.fromkeys(notes):
            err_console.print(f"note: {escape(note)}")
        for payload in results:
            if as_json:
                typer.echo(json.dumps(payload))
            else:
                _print(payload)
        for label, problem in skipped:
            err_console.print(f"skipped {escape(label)}: {escape(problem)}")
        if skipped:
            raise typer.Exit(1)


def _print(payload: dict[str, Any]) -> None:
    label, n = payload["query"], payload["vectors"]
    table = Table(
        title=f"{escape(label)}: {n} {payload['query_modality']} vector(s) against {payload['target']}",
        title_justify="left",
        show_lines=False,
    )
    table.add_column("#", justify="right")
    table.add_column("piece", overflow="fold")
    table.add_column("score", justify="right")
    table.add_column("votes", justify="right")
    table.add_column("best match", overflow="fold")
    for p in payload["pieces"]:
        table.add_row(str(p["rank"]), escape(p["piece"]), f"{p['score']:.3f}", str(p["votes"]), escape(p["best"]["id"]))
    out_console.print(table)
