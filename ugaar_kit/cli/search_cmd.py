"""`ugaar-kit search`: the stored items nearest to query files, folders of them or lyrics texts.

The queries are gathered and embedded by `ugaar_kit.inference.embedding` (`gather_queries`,
`embed_queries`) and searched together by `ugaar_kit.retrieval.search.search_many`; this module
only prints. (No `from __future__ import
annotations`: Typer reads the parameter types.)
"""

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ugaar_kit.cli import params
from ugaar_kit.cli.base import err_console, out_console
from ugaar_kit.registry.components import Registry

Texts = Annotated[
    list[str] | None,
    params.repeatable("--text", "Lyrics to search with (normalized as training lyrics were); repeatable."),
]
Targets = Annotated[
    list[str] | None,
    params.repeatable("--target", "Modality to search (repeatable) [default: every other one in the store]."),
]


QUERY_HELP = (
    "Query files (audio, sheet image or lyrics text), or folders: every file under one that the run reads is a query."
)


def add(app: typer.Typer, get_registry: Callable[[], Registry]) -> None:
    """Add the `search` command to the root app."""

    @app.command("search")
    def search(
        index: params.StoreIndex,
        run: params.StoreRun,
        query: Annotated[list[Path] | None, params.files(QUERY_HELP)] = None,
        text: Texts = None,
        lines: Annotated[
            Path | None,
            typer.Option(
                "--lines", help="A text file whose every non-blank line is one lyrics query.", show_default=False
            ),
        ] = None,
        top: Annotated[int, typer.Option("--top", help="Results per target modality.", min=1)] = 10,
        target: Targets = None,
        modality: Annotated[
            str | None,
            typer.Option("--modality", help="The queries' modality [default: by extension].", show_default=False),
        ] = None,
        exact: Annotated[bool, typer.Option("--exact", help="Exact search even where a faiss index exists.")] = False,
        whole: Annotated[
            bool,
            typer.Option(
                "--whole",
                help="Embed each query recording whole (memory grows with its length) instead of one query per "
                "window, the windows the store was embedded with.",
            ),
        ] = False,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print one JSON object per query, a line each (JSON lines).")
        ] = False,
        device: params.Device = None,
    ) -> None:
        """Find the stored items nearest to each query in the shared space, by cosine
        similarity: windows come with their times, lyrics lines with their line numbers.

        Queries are files, folders of files, --text (repeatable) and the lines of --lines; all
        of them are embedded in batches and searched in one pass over the store. Searches every
        modality of the store but the query's own unless --target says which (a lyrics-only
        store needs --target lyrics). A lyrics file is one query: its lines are joined into one
        passage (use --lines for one query a line); a recording is cut into the store's windows, each
        one query (read a block at a time: any length fits in memory; --whole embeds it whole). A query
        that cannot be used (an unreadable file in a folder, a line with no words) is reported
        and skipped: the exit code is then 1."""
        from ugaar_kit.errors import OptionError
        from ugaar_kit.inference.embedding import gather_queries
        from ugaar_kit.retrieval.queries import load_run, search_queries
        from ugaar_kit.store.reader import Store

        if not query and not text and lines is None:
            raise OptionError("give a query: files or folders, --text or --lines")
        with Store(index) as store:
            loaded = load_run(store, run, get_registry(), device)
            queries, skipped = gather_queries(loaded, query or [], text or [], lines, modality)
            answer = search_queries(
                loaded, store, queries, target=target, top=top, exact=exact, whole=whole, skipped=skipped
            )
        for note in answer.notes:
            err_console.print(f"note: {escape(note)}")
        for payload, hits in zip(answer.results, answer.hits):
            if as_json:
                typer.echo(json.dumps(payload))
            else:
                print_results(payload["query"], payload["query_modality"], hits)
        for label, problem in answer.skipped:
            err_console.print(f"skipped {escape(label)}: {escape(problem)}")
        if answer.skipped:
            raise typer.Exit(1)


def _where(hit: Any) -> str:
    if hit.start is not None and hit.end is not None:
        return f"{hit.start:.2f}-{hit.end:.2f} s"
    if hit.line is not None:
        return f"line {hit.line}"
    return ""


def print_results(label: str, query_modality: str, results: Mapping[str, list[Any]]) -> None:
    """One rich table per target modality: rank, score, id, time or line."""
    for m, hits in results.items():
        table = Table(title=f"{query_modality} -> {m}: nearest to {escape(label)}", title_justify="left")
        table.add_column("#", justify="right")
        table.add_column("score", justify="right")
        table.add_column("id", overflow="fold")
        table.add_column("where")
        for h in hits:
            table.add_row(str(h.rank), f"{h.score:.3f}", escape(h.id), _where(h))
        out_console.print(table)
