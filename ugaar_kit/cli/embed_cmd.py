"""`ugaar-kit embed`: embed files and folders into an HDF5 store with a trained run.

The command gathers flags, shows progress and the summary; the work is
`ugaar_kit.inference.embedding.embed_paths`. (No `from __future__ import annotations`: Typer reads the
parameter types.)
"""

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from ugaar_kit.cli import params
from ugaar_kit.cli.base import err_console, out_console
from ugaar_kit.infra.progress import progress_bar, reporter
from ugaar_kit.registry.components import Registry


def say(text: str) -> None:
    """Print a line on stdout without wrapping it (paths stay whole for scripts and tests)."""
    out_console.print(text, soft_wrap=True)


SHOW_SKIPPED = 50
"""Skipped files listed in the summary; all of them are in the store's errors table."""


def add(app: typer.Typer, get_registry: Callable[[], Registry]) -> None:
    """Add the `embed` command to the root app."""

    @app.command("embed")
    def embed(
        paths: Annotated[
            list[Path],
            typer.Argument(
                help="Files and folders to embed (folders recursively; hidden files skipped).", show_default=False
            ),
        ],
        run: Annotated[
            Path, typer.Option("--run", help="A run folder written by 'ugaar-kit train'.", show_default=False)
        ],
        out: Annotated[
            Path, typer.Option("--out", help="The HDF5 store to create, resume or extend.", show_default=False)
        ],
        modality: Annotated[
            str | None,
            typer.Option(help="Embed every file as this modality [default: by extension].", show_default=False),
        ] = None,
        window: Annotated[
            float | None,
            typer.Option(
                help="Audio window in seconds; 0 = whole files [default: the run's, else 5].",
                min=0.0,
                callback=params.finite,
                show_default=False,
            ),
        ] = None,
        hop: Annotated[
            float | None,
            typer.Option(
                help="Seconds between window starts [default: the run's, else half the window].",
                callback=params.finite,
                show_default=False,
            ),
        ] = None,
        shard: Annotated[
            str | None,
            typer.Option(
                help="Embed only shard K of N (e.g. 1/4), chosen by a hash of each file's path.", show_default=False
            ),
        ] = None,
        refresh: Annotated[
            bool, typer.Option("--refresh", help="Re-embed files changed since they were embedded.")
        ] = False,
        strict: Annotated[bool, typer.Option("--strict", help="Stop at the first bad file (exit code 2).")] = False,
        batch_size: Annotated[int, typer.Option(help="Rows per forward pass.", min=1)] = 64,
        workers: Annotated[
            int | None,
            typer.Option(
                help="Processes reading and featurizing files; 0 = this one [default: one per core, at most 4].",
                min=0,
                show_default=False,
            ),
        ] = None,
        device: params.Device = None,
    ) -> None:
        """Embed audio, sheet images and lyrics under PATHS into an HDF5 store.

        Each file goes to the modality whose encoder reads its extension. Long audio becomes one
        row per window (`#t=START-END`), a lyrics file one row per line (`#L12`). Re-running
        the same command resumes: files already embedded (same size and mtime) are skipped.

        Exit code: 0 when every file was embedded, 1 when some were skipped (they are listed,
        and kept in the store's errors table), 2 on an error."""
        import os

        from ugaar_kit.inference.embedding import EmbedSettings, embed_paths, parse_shard
        from ugaar_kit.inference.run import Run
        from ugaar_kit.infra.distributed import pick_device

        dev = pick_device(device or "auto")
        loaded = Run.load(run, registry=get_registry(), device=dev)
        settings = EmbedSettings(
            window=window,
            hop=hop,
            batch_size=batch_size,
            workers=workers if workers is not None else min(4, os.cpu_count() or 1),
            shard=parse_shard(shard) if shard else None,
            refresh=refresh,
            strict=strict,
            modality=modality,
        )
        with progress_bar("embedding", console=err_console, unit="files") as bar:
            summary = embed_paths(loaded, paths, out, settings, on_progress=reporter(bar, "files"))
        print_summary(summary, out)
        raise typer.Exit(summary.exit_code)


def print_summary(summary: Any, out: Path) -> None:
    """The end-of-run summary: counts, rates, files not re-embedded, skipped files."""
    rate = summary.files / summary.seconds if summary.seconds > 0 else 0.0
    line = f"embedded {summary.files} files ({summary.rows} rows) into {escape(str(out))} in {summary.seconds:.1f} s: {rate:.1f} files/s"
    if summary.audio_seconds:
        line += f", {summary.audio_seconds / max(summary.seconds, 1e-9):.0f} s of audio per second"
    say(line)
    extra = []
    if summary.already:
        extra.append(f"{summary.already} already in the store")
    if summary.refreshed:
        extra.append(f"{summary.refreshed} re-embedded (changed)")
    if summary.other_shards:
        extra.append(f"{summary.other_shards} in other shards")
    if summary.ignored:
        extra.append(f"{summary.ignored} with other extensions ignored")
    if extra:
        say("; ".join(extra))
    if summary.changed:
        names = ", ".join(escape(s) for s in summary.changed[:5]) + (" ..." if len(summary.changed) > 5 else "")
        say(
            f"[yellow]{len(summary.changed)} files changed since they were embedded and were left as they are (--refresh re-embeds them): {names}[/]"
        )
    for note in summary.notes:
        say(f"note: {escape(note)}")
    if summary.skipped:
        say(f"[yellow]skipped {len(summary.skipped)} files:[/]")
        for source, reason in summary.skipped[:SHOW_SKIPPED]:
            say(f"  {escape(source)}: {escape(reason)}")
        if len(summary.skipped) > SHOW_SKIPPED:
            say(
                f"  ... and {len(summary.skipped) - SHOW_SKIPPED} more: 'ugaar-kit store info {escape(str(out))} --errors' lists them all"
            )
