"""`ugaar-kit store`: inspect, merge and index embedding stores.

(No `from __future__ import annotations`: Typer reads the parameter types.)
"""

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ugaar_kit.cli.base import App, err_console, out_console
from ugaar_kit.registry.components import Registry


def say(text: str) -> None:
    """Print a line on stdout without wrapping it (paths stay whole for scripts and tests)."""
    out_console.print(text, soft_wrap=True)


def make(get_registry: Callable[[], Registry]) -> typer.Typer:
    """The `store` command group (`get_registry` is unused: stores need no plugins)."""
    app = App(help="Inspect, merge and index embedding stores made by 'ugaar-kit embed'.")

    @app.command("info")
    def info(
        store: Annotated[Path, typer.Argument(help="An embedding store (.h5).", show_default=False)],
        errors: Annotated[bool, typer.Option("--errors", help="List every skipped file with its reason.")] = False,
    ) -> None:
        """Show a store's run, rows per modality, settings and skipped files."""
        from ugaar_kit.store.reader import Store

        with Store(store) as s:
            say(
                f"{escape(str(store))}: run {s.run_id}, format {s.format_version}, written by ugaar-kit {s.tool_version}"
            )
            settings = ", ".join(f"{k} {v}" for k, v in sorted(s.settings.items()))
            if settings:
                say(f"settings: {settings}")
            table = Table("modality", "rows", "files", "dim")
            for m in s.modalities:
                files = len(set(s.sources(m).tolist()))
                table.add_row(m, str(s.rows(m)), str(files), str(s.dim(m)))
            out_console.print(table)
            errs = s.errors
            say(f"skipped files: {len(errs)}")
            if errors:
                for path, message in errs:
                    say(f"  {escape(path)}: {escape(message)}")
            if s.pending_journal:
                say("[yellow]an interrupted embed left journal records not folded in yet: re-run it to finish[/]")

    @app.command("merge")
    def merge(
        stores: Annotated[
            list[Path],
            typer.Argument(help="Stores of one run, e.g. the shards of 'embed --shard K/N'.", show_default=False),
        ],
        out: Annotated[
            Path, typer.Option("--out", help="The merged store to write (replaced atomically).", show_default=False)
        ],
    ) -> None:
        """Join stores made by the same run into one; a file in several keeps the last one's rows."""
        from ugaar_kit.store.merge import merge_stores

        report = merge_stores(stores, out)
        rows = ", ".join(f"{m} {n}" for m, n in report.rows.items()) or "no rows"
        say(f"merged {len(stores)} stores into {escape(str(out))}: {rows}; {report.errors} skipped files listed")
        if report.duplicates:
            say(f"{report.duplicates} rows of files present in several inputs were dropped (the last input's kept)")
        for note in report.notes:
            err_console.print(f"[yellow]warning:[/] {escape(note)}", soft_wrap=True)

    @app.command("index")
    def index(
        store: Annotated[Path, typer.Argument(help="An embedding store (.h5).", show_default=False)],
        modality: Annotated[
            list[str] | None,
            typer.Option(
                "--modality", help="Index only this modality (repeatable) [default: all].", show_default=False
            ),
        ] = None,
        nlist: Annotated[
            int | None, typer.Option(help="IVF lists [default: about 4 sqrt(rows)].", min=1, show_default=False)
        ] = None,
        nprobe: Annotated[int, typer.Option(help="Lists visited per query.", min=1)] = 16,
    ) -> None:
        """Build an approximate faiss index beside the store (needs the `faiss` extra) and report
        its recall@10 against exact search; `search` uses it while the store is unchanged."""
        from ugaar_kit.store.index import build_index

        reports = build_index(store, modality or None, nlist=nlist, nprobe=nprobe)
        table = Table("modality", "rows", "index", "recall@10", "seconds")
        for r in reports:
            table.add_row(r.modality, f"{r.rows:,}", r.kind, f"{r.recall_at_10:.3f}", f"{r.seconds:.1f}")
        out_console.print(table)
        for r in reports:
            say(
                f"{r.modality}: wrote {escape(str(r.path))}; recall@10 against exact search over {r.queries:,} stored rows as queries"
            )

    return app
