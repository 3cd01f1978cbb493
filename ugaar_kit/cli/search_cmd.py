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
        import numpy as np

        from ugaar_kit.errors import InputError, OptionError
        from ugaar_kit.inference.embedding import embed_queries, gather_queries
        from ugaar_kit.inference.run import Run
        from ugaar_kit.infra.distributed import pick_device
        from ugaar_kit.retrieval.search import search_many
        from ugaar_kit.store.reader import Store

        if not query and not text and lines is None:
            raise OptionError("give a query: files or folders, --text or --lines")
        with Store(index) as store:
            loaded = Run.load(run, registry=get_registry(), device=pick_device(device or "auto"))
            if store.run_id != loaded.run_id:
                raise InputError(
                    index,
                    f"made by run {store.run_id}, not by {run} ({loaded.run_id}): its embeddings are in another space",
                )
            queries, skipped = gather_queries(loaded, query or [], text or [], lines, modality)
            settings = store.settings
            embedded = []
            for e in embed_queries(
                loaded,
                queries,
                window=settings.get("window"),
                hop=settings.get("hop"),
                whole=whole,
                strict=len(queries) == 1 and not skipped,  # one query: its problem is the command's error
            ):
                if e.vector is None:
                    skipped.append((e.label, e.error or "cannot be embedded"))
                else:
                    embedded.append(e)
            groups: dict[str, list[int]] = {}
            for i, e in enumerate(embedded):
                groups.setdefault(e.query.modality, []).append(i)
            results: list[dict[str, Any]] = [{} for _ in embedded]
            notes: list[str] = []
            for qmod, members in groups.items():
                targets = _targets(store, qmod, target)
                vectors = np.stack([embedded[i].vector for i in members])  # type: ignore[misc]
                found = search_many(store, vectors, targets, top, exact=exact, notes=notes)
                for i, hits in zip(members, found):
                    results[i] = hits
        for note in dict.fromkeys(notes):
            err_console.print(f"note: {escape(note)}")
        for e, hits in zip(embedded, results):
            label = e.label if e.query.path is not None else f"--text {e.query.text!r}"
            if as_json:
                payload = {
                    "query": label,
                    "query_modality": e.query.modality,
                    "start": e.start,
                    "end": e.end,
                    "results": {m: [h.as_dict() for h in found] for m, found in hits.items()},
                }
                typer.echo(json.dumps(payload))
            else:
                print_results(label, e.query.modality, hits)
        for label, problem in skipped:
            err_console.print(f"skipped {escape(label)}: {escape(problem)}")
        if skipped:
            raise typer.Exit(1)


def _targets(store: Any, query_modality: str, target: list[str] | None) -> list[str]:
    """The modalities a query of `query_modality` searches (--target, or every other one)."""
    from ugaar_kit.errors import OptionError

    targets = list(target or [m for m in store.modalities if m != query_modality])
    unknown = [m for m in targets if m not in store.modalities]
    if unknown:
        raise OptionError(
            f"--target {unknown[0]}: the store has no such embeddings (it has: {', '.join(store.modalities) or 'none'})"
        )
    if not targets:
        raise OptionError(
            f"the store holds only {query_modality} embeddings; pass --target {query_modality} to search them"
        )
    return targets


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
