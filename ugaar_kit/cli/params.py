"""Reusable `Annotated[...]` parameters for commands: data, run folders, device, `-o`, config.

Options default to None ("not given") so a config file can supply them and the command line
wins only where it was used. Plugin-provided choices (encoders, objectives) are plain strings
checked against the registry by a callback that lists the known names, with completion.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from ugaar_kit.registry.components import Registry

DEVICES = ("auto", "cpu", "cuda")


def finite(value: float | None) -> float | None:
    """The callback of every float flag (`typer.Option(callback=finite)`): NaN passes every range
    check (`nan < min` is false), so NaN and infinities are refused here."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number")
    return value


DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data", "-d", help="Dataset folder (manifest.jsonl), built by 'ugaar-kit dataset build'.", show_default=False
    ),
]
OutDir = Annotated[
    Path | None,
    typer.Option("--out", help="Run folder to create (everything embed/eval/search need).", show_default=False),
]
RunDir = Annotated[Path, typer.Argument(help="A run folder written by 'ugaar-kit train'.", show_default=False)]
ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML file with any of these settings and [audio]/[sheet]/[lyrics]/[objective] tables; flags win.",
        show_default=False,
    ),
]


def _complete_device(incomplete: str) -> list[str]:
    return [d for d in DEVICES if d.startswith(incomplete)]


Device = Annotated[
    str | None,
    typer.Option(
        "--device",
        help="auto (CUDA when present), cpu, cuda or cuda:N.",
        autocompletion=_complete_device,
        show_default=False,
    ),
]
Options = Annotated[
    list[str] | None,
    typer.Option(
        "--option",
        "-o",
        metavar="SLOT.KEY=VALUE",
        help="A component option, e.g. -o audio.n_mels=128 (repeatable); 'ugaar-kit plugins show NAME' lists them.",
        show_default=False,
    ),
]


def component_option(
    get_registry: Callable[[], Registry], kind: str, modality: str | None, *decls: str, help: str
) -> Any:
    """An option naming a registered component: validated and completed from the registry."""
    what = f"{modality} encoder" if kind == "encoder" else kind

    def names() -> list[str]:
        return get_registry().names(kind, modality)

    def check(value: str | None) -> str | None:
        if value is not None and value not in names():
            raise typer.BadParameter(f"unknown {what} '{value}' (known: {', '.join(names()) or 'none installed'})")
        return value

    def complete(incomplete: str) -> list[str]:
        return [n for n in names() if n.startswith(incomplete)]

    return Annotated[
        str | None,
        typer.Option(*decls, callback=check, autocompletion=complete, help=help, show_default=False),
    ]


def repeatable(flag: str, help: str) -> Any:
    """A `typer.Option` given any number of times (a `list[str] | None` parameter)."""
    return typer.Option(flag, help=help, show_default=False)


def files(help: str) -> Any:
    """The query files argument of a command (`list[Path] | None`)."""
    return typer.Argument(help=help, show_default=False)


def number(flag: str, help: str, low: float, high: float) -> Any:
    """A finite float option within `low..high`."""
    return typer.Option(flag, min=low, max=high, callback=finite, help=help)


StoreIndex = Annotated[
    Path,
    typer.Option("--index", help="An embedding store made by 'ugaar-kit embed' with this run.", show_default=False),
]
StoreRun = Annotated[Path, typer.Option("--run", help="The run folder that made the store.", show_default=False)]
LyricsLines = Annotated[
    list[str] | None, repeatable("--text", "A line of lyrics; the --text lines together are one query.")
]
