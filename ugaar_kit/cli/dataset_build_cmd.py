"""`ugaar-kit dataset build`: engrave, synthesize and index the songs of a score source."""

# No `from __future__ import annotations`: the options refer to a local completion function.

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from ugaar_kit.cli import params
from ugaar_kit.cli.base import out_console
from ugaar_kit.registry.components import Registry


def add(app: typer.Typer, get_registry: Callable[[], Registry]) -> None:
    """Add the `build` command to the `dataset` group."""

    def complete_format(incomplete: str) -> list[str]:
        from ugaar_kit.interfaces.dataset import ItemSource, ScoreSource

        reg = get_registry()
        kinds = (ScoreSource, ItemSource)
        return [c.name for c in reg.all("dataset") if issubclass(c.cls, kinds) and c.name.startswith(incomplete)]

    @app.command("build")
    def build(
        sources: Annotated[
            list[Path], typer.Argument(help="Source files or folders of the format.", show_default=False)
        ],
        format: Annotated[
            str,
            typer.Option(
                "--format",
                "-f",
                help="Source format: a score source (lmd-lyrics, musicxml) or an item source (manifest).",
                autocompletion=complete_format,
            ),
        ] = "lmd-lyrics",
        out: Annotated[
            Path, typer.Option("--out", help="Dataset folder to create or resume.", show_default=False)
        ] = ...,  # type: ignore[assignment]
        limit_songs: Annotated[
            int | None, typer.Option("--limit-songs", min=1, help="Build only the first N songs.")
        ] = None,
        workers: Annotated[int, typer.Option("--workers", min=0, help="Build processes (0: one per core).")] = 0,
        segment: Annotated[str, typer.Option("--segment", help="Passages: 'line' (lyric lines) or 'window'.")] = "line",
        window: Annotated[
            int, typer.Option("--window", min=1, help="Syllables per passage with --segment window.")
        ] = 8,
        lines: Annotated[
            int,
            typer.Option(
                "--lines",
                min=1,
                max=50,
                help="Consecutive lyric lines per passage with --segment line (2: lines 1-2, 3-4, ...).",
            ),
        ] = 1,
        height: Annotated[int, typer.Option("--height", min=16, max=1024, help="Sheet image height in pixels.")] = 128,
        print_lyrics: Annotated[bool, typer.Option("--print-lyrics", help="Print the lyrics under the notes.")] = False,
        sample_rate: Annotated[
            int, typer.Option("--sample-rate", min=8000, max=96000, help="Audio sample rate (Hz).")
        ] = 22050,
        audio_format: Annotated[
            str,
            typer.Option(
                "--audio-format",
                help="Audio files: flac (lossless: the samples of a 16-bit WAV in about a quarter of its space) or wav.",
            ),
        ] = "flac",
        tempo: Annotated[
            float,
            typer.Option(
                "--tempo",
                min=10,
                max=400,
                callback=params.finite,
                help="Quarter notes a minute, for sources without real timing.",
            ),
        ] = 100.0,
        audio_version: Annotated[
            list[str] | None,
            typer.Option(
                "--audio-version", help="Extra audio per passage, TIMBRE[@TEMPO], e.g. bright or soft@0.8 (repeatable)."
            ),
        ] = None,
        clef: Annotated[
            str,
            typer.Option(
                help="Clef of each passage's sheet image: passage (the one that fits the passage's own range) or "
                "song (the one that fits its whole song, as its score pages show it).",
            ),
        ] = "passage",
        whole_songs: Annotated[
            bool,
            typer.Option(
                "--whole-songs",
                help="Also write each whole song (its passages end to end) as one recording and as score pages, "
                "with where each passage sits in both: songs.jsonl (docs/formats.md). For identifying pieces.",
            ),
        ] = False,
        train_windows: Annotated[
            float,
            params.number(
                "--train-windows",
                "With --whole-songs: also make each training song's recording into windows of this many seconds "
                "(every half of it), each a training item with the score and lyrics of the passage at its middle: "
                "what identify and locate query with. 0: none.",
                0,
                60,
            ),
        ] = 0.0,
        train_page_windows: Annotated[
            bool | None,
            typer.Option(
                "--train-page-windows/--no-train-page-windows",
                help="With --whole-songs: also make each training song's score pages into the windows identify "
                "reads a page with (along its systems), each a training item with the passage at its middle. "
                "On by default with --whole-songs (a store for identification: pages, excerpts and localisation "
                "gain, passage retrieval loses; docs/datasets.md); --no-train-page-windows: passages only.",
            ),
        ] = None,
        page_window_audio: Annotated[
            str,
            typer.Option(
                "--page-window-audio",
                help="The recording each training page window is paired with: aligned (the stretch of the song's "
                "recording its notes sound in) or passage (the recording of the passage printed at its middle, "
                "as before 2026-12-07; measured worse at every identification task and at localisation: "
                "docs/datasets.md).",
            ),
        ] = "aligned",
        train_page_hop: Annotated[
            float,
            typer.Option(
                "--train-page-hop",
                min=0.25,
                max=12.0,
                help="With --train-page-windows: strip heights between training page windows along a system (each "
                "6 wide). 3 (the default) cuts them as a page query is read; 1.5 cuts twice as many, measured no "
                "better over 3 seeds (docs/datasets.md).",
            ),
        ] = 3.0,
        train_page_width: Annotated[
            list[float] | None,
            typer.Option(
                "--train-page-width",
                min=1.0,
                max=24.0,
                help="With --train-page-windows: the width of the training page windows in strip heights, "
                "repeatable to cut each system at several (default 6, as a page query is read; "
                "--train-page-width 6 --train-page-width 4 adds the width locate reads a piece's pages in, measured "
                "no better: docs/datasets.md).",
            ),
        ] = None,
        page_clock: Annotated[
            str,
            typer.Option(
                "--page-clock",
                help="How an aligned page window's edges are laid on the recording: boxes (each passage's box "
                "spanning its time, the default) or notes (its system's noteheads at their onsets, songs.jsonl's "
                "clocks; measured no better: docs/datasets.md). locate times a store's page windows the same way.",
            ),
        ] = "boxes",
        split: Annotated[str, typer.Option("--split", help="Train,valid,test fractions, by song.")] = "0.8,0.1,0.1",
        seed: Annotated[int, typer.Option("--seed", help="Seed of the split.")] = 0,
        option: Annotated[
            list[str] | None,
            typer.Option(
                "--option", "-o", metavar="source.KEY=VALUE", help="An option of the score source (repeatable)."
            ),
        ] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    ) -> None:
        """Build a dataset folder (manifest.jsonl, sheet/*.png, audio/*.wav or .flac) from a score source,
        or write one from an item source's aligned files (--format manifest: a CSV, TSV or JSONL
        of your audio, sheet images, lyrics and plugin modalities; split by --split and --seed).

        Re-running with the same settings resumes: passages whose files exist are kept."""
        from ugaar_kit.build.builder import BuildOptions, build_dataset
        from ugaar_kit.errors import UgaarError
        from ugaar_kit.interfaces.dataset import ItemSource, ScoreSource
        from ugaar_kit.interfaces.options import build as build_options
        from ugaar_kit.interfaces.options import parse_overrides

        source_cls: Any = get_registry().dataset(format)
        source = source_cls.from_options(parse_overrides(option or [], ("source",)).get("source"))
        if isinstance(source, ItemSource):
            from ugaar_kit.build.items import write_dataset_folder

            fractions = tuple(float(x) for x in split.split(","))
            if len(fractions) != 3:
                raise UgaarError(f"--split takes three fractions (train,valid,test), got '{split}'")
            items = [it for path in sources for it in source.items(path)]
            language = str(getattr(source.options, "language", "en"))
            info = write_dataset_folder(
                items,
                out,
                fractions=fractions,
                seed=seed,
                language=language,
                source=format,  # type: ignore[arg-type]
            )
            out_console.print(
                f"{info['items']} items of {info['songs']} songs ({', '.join(info['modalities'])}) written to {out}",
                markup=False,
            )
            return
        if not isinstance(source, ScoreSource):
            raise UgaarError(f"'{format}' is neither a score source nor an item source")
        values = {
            "segment": segment,
            "window": window,
            "lines": lines,
            "height": height,
            "print_lyrics": print_lyrics,
            "clef": clef,
            "sample_rate": sample_rate,
            "audio_format": audio_format,
            "tempo_bpm": tempo,
            "audio_versions": tuple(audio_version or ()),
            "whole_songs": whole_songs,
            "train_windows": train_windows,
            "train_page_windows": train_page_windows,
            "page_window_audio": page_window_audio,
            "page_clock": page_clock,
            "train_page_hop": train_page_hop,
            "train_page_widths": tuple(train_page_width or (6.0,)),
            "split": split,
            "seed": seed,
            "limit_songs": limit_songs,
            "workers": workers,
        }
        options = build_options(BuildOptions, values, prefix="build")
        if len(options.split) != 3:
            raise UgaarError(f"--split takes three fractions (train,valid,test), got '{split}'")
        summary = build_dataset(source.songs(sources), out, options, progress=not quiet, source_format=format)
        out_console.print(str(summary), markup=False)
