"""`ugaar-kit identify`: which piece a recording, a page of a score or a song's lyrics comes from.

The query's vectors (a recording's windows, a page's windows along its systems, the lines of a
lyrics file or the --text lines) are made by `ugaar_kit.inference.embedding` and ranked into
pieces by `ugaar_kit.retrieval.identify`; this module only gathers and prints. (No `from
__future__ import annotations`: Typer reads the parameter types.)
"""

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.markup import escape
from rich.table import Table

from ugaar_kit.cli import params
from ugaar_kit.cli.base import err_console, out_console
from ugaar_kit.registry.components import Registry

PREFERRED_TARGETS = {"audio": ("sheet", "lyrics"), "sheet": ("audio", "lyrics"), "lyrics": ("audio", "sheet")}
"""The modality a query of each modality is matched against when --target is not given (the
first the store has; any other modality: the store's first other one)."""


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
                "piece's best cosine among them.",
            ),
        ] = "votes",
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
        from ugaar_kit.retrieval.identify import AGGREGATES, Aggregate, dataset_pieces, identify, piece_sizes
        from ugaar_kit.store.reader import Store

        if not query and not text:
            raise OptionError("give a query: files, or --text lines")
        if aggregate not in AGGREGATES:
            raise OptionError(f"--aggregate {aggregate}: unknown (known: {', '.join(AGGREGATES)})")
        table = dataset_pieces(data) if data is not None else None
        skipped: list[tuple[str, str]] = []
        with Store(index) as store:
            loaded = load_run(store, run, get_registry(), device)
            jobs = query_jobs(loaded, store, query or [], text or [], page_window, page_hop)
            results = []
            notes: list[str] = []
            sizes: dict[str, Any] = {}
            with progress_bar(console=err_console, enabled=len(jobs) > 1, unit="queries") as bar:
                task = bar.add_task("identifying", total=len(jobs))
                for label, modality, embed in jobs:
                    goal = target_of(store, modality, target)
                    try:
                        embedded = embed()
                    except InputError as exc:
                        if len(jobs) == 1:
                            raise
                        skipped.append((label, exc.problem))
                        bar.advance(task)
                        continue
                    vectors = [e.vector for e in embedded if e.vector is not None]
                    for e in embedded:
                        if e.vector is None:
                            skipped.append((e.label, e.error or "cannot be embedded"))
                    if not vectors:
                        skipped.append((label, "nothing in it could be embedded"))
                        bar.advance(task)
                        continue
                    import numpy as np

                    if goal not in sizes:
                        sizes[goal] = piece_sizes(store, goal, table)
                    ranked = identify(
                        store,
                        np.stack(vectors),
                        goal,
                        table,
                        k=k,
                        aggregate=cast(Aggregate, aggregate),
                        top=top,
                        exact=exact,
                        notes=notes,
                        sizes=sizes[goal],
                    )
                    results.append((label, modality, goal, len(vectors), ranked))
                    bar.advance(task)
        for note in dict.fromkeys(notes):
            err_console.print(f"note: {escape(note)}")
        for label, modality, goal, n, ranked in results:
            if as_json:
                payload = {
                    "query": label,
                    "query_modality": modality,
                    "target": goal,
                    "vectors": n,
                    "aggregate": aggregate,
                    "pieces": [p.as_dict() for p in ranked],
                }
                typer.echo(json.dumps(payload))
            else:
                _print(label, modality, goal, n, ranked)
        for label, problem in skipped:
            err_console.print(f"skipped {escape(label)}: {escape(problem)}")
        if skipped:
            raise typer.Exit(1)


def load_run(store: Any, run: Path, registry: Registry, device: str | None) -> Any:
    """The run that made `store`, on `device`; InputError when the store was made by another."""
    from ugaar_kit.errors import InputError
    from ugaar_kit.inference.run import Run
    from ugaar_kit.infra.distributed import pick_device

    loaded = Run.load(run, registry=registry, device=pick_device(device or "auto"))
    if store.run_id != loaded.run_id:
        raise InputError(
            store.path,
            f"made by run {store.run_id}, not by {run} ({loaded.run_id}): its embeddings are in another space",
        )
    return loaded


def query_jobs(
    loaded: Any, store: Any, paths: list[Path], text: list[str], page_window: float, page_hop: float
) -> list[tuple[str, str, Callable[[], list[Any]]]]:
    """(label, modality, embed) of each query: a file (a recording: the store's windows; a page:
    windows along its systems; a lyrics file: its lines), and the --text lines as one query;
    `embed()` gives its `Embedded` vectors in order."""
    from ugaar_kit.errors import InputError
    from ugaar_kit.inference.embedding import embed_queries, gather_queries
    from ugaar_kit.inference.embedding.query import Query, page_windows, text_modality

    window, hop = store.settings.get("window"), store.settings.get("hop")
    jobs: list[tuple[str, str, Callable[[], list[Any]]]] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            raise InputError(path, "a folder: give files (one query each)")
        q = gather_queries(loaded, [path])[0][0]
        embed: Callable[[], list[Any]]
        if q.modality == "sheet":
            embed = functools.partial(page_windows, loaded, path, "sheet", page_window, page_hop)
        elif getattr(loaded.encoders[q.modality], "text_input", False):
            lines = gather_queries(loaded, lines=path, modality=q.modality)[0]
            embed = functools.partial(embed_queries, loaded, lines)
        else:
            embed = functools.partial(embed_queries, loaded, [q], window=window, hop=hop, strict=True)
        jobs.append((str(path), q.modality, embed))
    if text:
        m = text_modality(loaded, None)
        lines_q = [Query(t, m, text=t) for t in text]
        jobs.append((f"--text ({len(text)} lines)", m, functools.partial(embed_queries, loaded, lines_q)))
    return jobs


def target_of(store: Any, modality: str, target: str | None) -> str:
    """The stored modality a query of `modality` is matched against."""
    from ugaar_kit.errors import OptionError

    if target is not None:
        if target == modality:
            raise OptionError(f"--target {target}: identify matches across modalities, never a query's own")
        if target not in store.modalities:
            raise OptionError(
                f"--target {target}: the store has no such embeddings (it has: {', '.join(store.modalities) or 'none'})"
            )
        return target
    others = [m for m in store.modalities if m != modality]
    preferred = [m for m in PREFERRED_TARGETS.get(modality, ()) if m in others]
    if not preferred and not others:
        raise OptionError(
            f"the store holds only {modality} embeddings: identify matches a query against another modality"
        )
    return (preferred or others)[0]


def _print(label: str, modality: str, target: str, n: int, ranked: list[Any]) -> None:
    table = Table(
        title=f"{escape(label)}: {n} {modality} vector(s) against {target}", title_justify="left", show_lines=False
    )
    table.add_column("#", justify="right")
    table.add_column("piece", overflow="fold")
    table.add_column("score", justify="right")
    table.add_column("votes", justify="right")
    table.add_column("best match", overflow="fold")
    for p in ranked:
        table.add_row(str(p.rank), escape(p.piece), f"{p.score:.3f}", str(p.votes), escape(p.best.id))
    out_console.print(table)
