"""`ugaar-kit search`: the stored items nearest to a query file or lyrics text.

The query is embedded by `ugaar_kit.inference.embedding.embed_query` and searched by
`ugaar_kit.retrieval.search.search_store`; this module only prints. (No `from __future__ import
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


def add(app: typer.Typer, get_registry: Callable[[], Registry]) -> None:
    """Add the `search` command to the root app."""

    @app.command("search")
    def search(
        index: Annotated[
            Path,
            typer.Option(
                "--index", help="An embedding store made by 'ugaar-kit embed' with this run.", show_default=False
            ),
        ],
        run: Annotated[Path, typer.Option("--run", help="The run folder that made the store.", show_default=False)],
        query: Annotated[
            Path | None, typer.Argument(help="A query file: audio, sheet image or lyrics text.", show_default=False)
        ] = None,
        text: Annotated[
            str | None,
            typer.Option(
                "--text", help="Lyrics to search with (normalized as training lyrics were).", show_default=False
            ),
        ] = None,
        top: Annotated[int, typer.Option("--top", help="Results per target modality.", min=1)] = 10,
        target: Annotated[
            list[str] | None,
            typer.Option(
                "--target",
                help="Modality to search (repeatable) [default: every other one in the store].",
                show_default=False,
            ),
        ] = None,
        modality: Annotated[
            str | None,
            typer.Option("--modality", help="The query file's modality [default: by extension].", show_default=False),
        ] = None,
        exact: Annotated[bool, typer.Option("--exact", help="Exact search even where a faiss index exists.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
        device: params.Device = None,
    ) -> None:
        """Find the stored items nearest to QUERY (or --text) in the shared space, by cosine
        similarity: windows come with their times, lyrics lines with their line numbers.

        Searches every modality of the store but the query's own unless --target says which
        (a lyrics-only store needs --target lyrics). A lyrics file is one query: its lines are
        joined into one passage; an audio file is embedded whole."""
        from ugaar_kit.errors import InputError, OptionError
        from ugaar_kit.inference.embedding import embed_query
        from ugaar_kit.inference.run import Run
        from ugaar_kit.infra.distributed import pick_device
        from ugaar_kit.retrieval.search import search_store
        from ugaar_kit.store.reader import Store

        with Store(index) as store:
            loaded = Run.load(run, registry=get_registry(), device=pick_device(device or "auto"))
            if store.run_id != loaded.run_id:
                raise InputError(
                    index,
                    f"made by run {store.run_id}, not by {run} ({loaded.run_id}): its embeddings are in another space",
                )
            qmod, vector = embed_query(loaded, query, text, modality)
            targets = list(target or [m for m in store.modalities if m != qmod])
            unknown = [m for m in targets if m not in store.modalities]
            if unknown:
                raise OptionError(
                    f"--target {unknown[0]}: the store has no such embeddings (it has: {', '.join(store.modalities) or 'none'})"
                )
            if not targets:
                raise OptionError(f"the store holds only {qmod} embeddings; pass --target {qmod} to search them")
            notes: list[str] = []
            results = search_store(store, vector, targets, top, exact=exact, notes=notes)
        for note in notes:
            err_console.print(f"note: {escape(note)}")
        label = str(query) if query is not None else f"--text {text!r}"
        if as_json:
            payload = {
                "query": label,
                "query_modality": qmod,
                "results": {m: [h.as_dict() for h in hits] for m, hits in results.items()},
            }
            typer.echo(json.dumps(payload, indent=2))
        else:
            print_results(label, qmod, results)


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
