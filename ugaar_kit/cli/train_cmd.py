"""`ugaar-kit train`: train encoders and an objective on a dataset folder into a run folder.

The command only gathers values (flags, `-o`, `--config`) and hands them to
`ugaar_kit.training`; the choices are resolved and checked there. (No `from __future__ import
annotations` here: the parameter types are built per app from the registry.)
"""

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from ugaar_kit.cli import params
from ugaar_kit.cli.base import err_console
from ugaar_kit.interfaces import options as opts
from ugaar_kit.registry.components import Registry


def add(app: typer.Typer, get_registry: Callable[[], Registry]) -> None:
    """Add the `train` command to the root app."""
    Audio = params.component_option(
        get_registry, "encoder", "audio", "--audio", help="Audio encoder (default when needed: cnn)."
    )
    Sheet = params.component_option(
        get_registry, "encoder", "sheet", "--sheet", help="Sheet-image encoder (default when needed: cnn)."
    )
    Lyrics = params.component_option(
        get_registry, "encoder", "lyrics", "--lyrics", help="Lyrics encoder (default when needed: doc2vec)."
    )
    ObjectiveName = params.component_option(
        get_registry, "objective", None, "--objective", help="Alignment objective, e.g. dcca, contrastive, cca, ugaar."
    )

    @app.command("train")
    def train(
        data: params.DataDir = None,
        out: params.OutDir = None,
        audio: Audio = None,  # type: ignore[valid-type]
        sheet: Sheet = None,  # type: ignore[valid-type]
        lyrics: Lyrics = None,  # type: ignore[valid-type]
        encoder: Annotated[
            list[str] | None,
            typer.Option(
                "--encoder",
                metavar="MODALITY=NAME",
                help="The encoder of a modality, any installed plugin's among them (repeatable): --encoder "
                "notes=pitches. --audio NAME, --sheet NAME and --lyrics NAME are short for --encoder audio=NAME, ...",
                show_default=False,
            ),
        ] = None,
        objective: ObjectiveName = None,  # type: ignore[valid-type]
        epochs: Annotated[
            int | None,
            typer.Option(
                help="Passes over the training split [default: 30; with --max-time, as many as it allows].",
                min=0,
                show_default=False,
            ),
        ] = None,
        max_time: Annotated[
            str | None,
            typer.Option(
                "--max-time",
                help="Wall-clock budget of the training loop, e.g. 90s, 15m, 1h30m (feature caching and encoder "
                "fitting not counted; total across --resume). The step in flight ends, a last validation runs, "
                "the best epoch is kept.",
                show_default=False,
            ),
        ] = None,
        schedule: Annotated[
            str | None,
            typer.Option(
                help="Learning rate schedule: cosine (warm-up, then cosine decay to 0 over the epochs or the "
                "budget) or constant [default: cosine].",
                show_default=False,
            ),
        ] = None,
        valid_every: Annotated[
            str | None,
            typer.Option(
                "--valid-every",
                help="Validate at an epoch's end only once this much training time (e.g. 30s) passed since "
                "the last validation [default: every epoch].",
                show_default=False,
            ),
        ] = None,
        batch_size: Annotated[
            int | None,
            typer.Option(
                help="Items per batch and process [default: 64; for dcca and ugaar twice the widest encoder "
                "output, rounded up to a power of two: 256 for 128-wide encoders].",
                min=1,
                show_default=False,
            ),
        ] = None,
        lr: Annotated[
            float | None,
            typer.Option(help="Learning rate [default: 0.001].", min=0.0, callback=params.finite, show_default=False),
        ] = None,
        seed: Annotated[int | None, typer.Option(help="Random seed [default: 0].", show_default=False)] = None,
        device: params.Device = None,
        option: params.Options = None,
        config: params.ConfigFile = None,
        resume: Annotated[
            Path | None,
            typer.Option(help="Continue an interrupted run in this folder (its config applies).", show_default=False),
        ] = None,
        amp: Annotated[
            bool | None,
            typer.Option(
                "--amp/--no-amp",
                help="Mixed precision: float16 on CUDA, bfloat16 on a CPU that has it natively (AVX-512 BF16, AMX) "
                "[default: on].",
                show_default=False,
            ),
        ] = None,
        patience: Annotated[
            int | None,
            typer.Option(
                help="Stop after N epochs without a better validation MRR; 0 = never [default: 10, or never with "
                "--max-time and the cosine schedule, which decays to 0 as the budget ends].",
                min=0,
                show_default=False,
            ),
        ] = None,
        song_run: Annotated[
            int | None,
            typer.Option(
                help="Make each batch of runs of N training items of one song, so a song's passages are one "
                "another's negatives; 0 = items at random [default: 2 when the training items include windows "
                "of score pages (a --whole-songs build: it places more excerpts in their song), else 0; "
                "docs/benchmarks.md].",
                min=0,
                show_default=False,
            ),
        ] = None,
        select: Annotated[
            str | None,
            typer.Option(
                help="Directions whose mean validation MRR picks the best epoch, comma-separated "
                "(e.g. 'audio->sheet,sheet->audio') [default: every direction].",
                show_default=False,
            ),
        ] = None,
        workers: Annotated[
            int | None,
            typer.Option(
                help="Processes building the feature cache; 0 = this one [default: cores, at most 4].",
                min=0,
                show_default=False,
            ),
        ] = None,
    ) -> None:
        """Train encoders for the modalities the objective needs and write a run folder.

        Modalities are those given an encoder (--audio/--sheet/--lyrics, --encoder MODALITY=NAME for
        any modality a plugin brings); the objective adds what
        it needs, with default encoders, and says so. Every flag is also a key of --config
        (component options in [audio], [sheet], [lyrics], [objective] tables); the resolved
        config is written to RUN/config.toml."""
        from ugaar_kit.runfolder.config import resolve_config
        from ugaar_kit.training.assemble import slots_of
        from ugaar_kit.training.trainer import train as run_training

        registry = get_registry()
        slots = slots_of(registry)
        overrides = opts.parse_overrides(option or [], slots)
        settings = {
            "data": data,
            "out": out,
            "epochs": epochs,
            "max_time": max_time,
            "schedule": schedule,
            "valid_every": valid_every,
            "batch_size": batch_size,
            "lr": lr,
            "seed": seed,
            "device": device,
            "amp": amp,
            "patience": patience,
            "song_run": song_run,
            "select": select,
            "workers": workers,
            "resume": resume,
        }
        names = {"audio": audio, "sheet": sheet, "lyrics": lyrics}
        names = {**names, **opts.parse_choices(encoder or [], [s for s in slots if s != "objective"], names)}
        names["objective"] = objective
        cfg = resolve_config(config, settings, names, overrides, slots)
        run_training(cfg, registry, console=err_console)
