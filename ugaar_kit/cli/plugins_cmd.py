"""`ugaar-kit plugins`: what is installed, who provides it, and each component's options."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.table import Table

from ugaar_kit.cli.base import App, out_console
from ugaar_kit.errors import PluginError
from ugaar_kit.interfaces import options as opts
from ugaar_kit.registry.components import Component, Registry


def component_json(c: Component) -> dict[str, Any]:
    return {
        "name": c.name,
        "kind": c.kind,
        "modality": c.modality,
        "distribution": c.distribution,
        "version": c.version,
        "description": c.description,
    }


def _default_repr(value: Any) -> str:
    return "None" if value is None else json.dumps(value, default=str)


def make(get_registry: Callable[[], Registry]) -> typer.Typer:
    app = App(
        help="List the installed encoders, objectives and datasets, and show their options.", no_args_is_help=False
    )

    @app.callback(invoke_without_command=True)
    def plugins(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
    ) -> None:
        """List every registered component: name, kind, modality, distribution, version."""
        if ctx.invoked_subcommand is not None:
            return
        registry = get_registry()
        if as_json:
            typer.echo(json.dumps([component_json(c) for c in registry], indent=2))
            return
        table = Table(title="ugaar-kit components")
        for col in ("name", "kind", "modality", "distribution", "version", "description"):
            table.add_column(col)
        for c in registry:
            table.add_row(c.name, c.kind, c.modality or "-", c.distribution, c.version, c.description)
        out_console.print(table)

    @app.command("show")
    def show(
        name: Annotated[str, typer.Argument(help="Component name, e.g. 'cnn' or 'audio/cnn' or 'dcca'.")],
        kind: Annotated[str | None, typer.Option(help="encoder, objective or dataset.")] = None,
        modality: Annotated[str | None, typer.Option(help="For encoders: audio, sheet, lyrics, ...")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Show a component's description and options (type, default, help)."""
        registry = get_registry()
        if "/" in name and modality is None:
            modality, name = name.split("/", 1)
        found = registry.find(name, kind, modality)
        if not found:
            known = ", ".join(sorted({c.label for c in registry})) or "none"
            raise PluginError(f"no component named '{name}' (known: {known})")
        if as_json:
            rows = []
            for c in found:
                d = component_json(c)
                d["options"] = [
                    {"name": o.name, "type": o.type, "default": o.default, "help": o.help}
                    for o in opts.describe(c.options_class)
                ]
                rows.append(d)
            typer.echo(json.dumps(rows, indent=2, default=str))
            return
        for c in found:
            out_console.print(f"[bold]{c.label}[/] ({c.kind}) from {c.distribution} {c.version}: {c.description}")
            infos = opts.describe(c.options_class)
            if not infos:
                out_console.print("  no options")
                continue
            if c.kind == "dataset":  # score sources take their options on `dataset build`
                caption = "set with 'ugaar-kit dataset build -o source.KEY=VALUE'"
            else:
                slot = c.modality if c.kind == "encoder" else c.kind
                caption = f"set with -o {slot}.KEY=VALUE or \\[{slot}] in a config file"
            table = Table(caption=caption)
            for col in ("option", "type", "default", "help"):
                table.add_column(col)
            for o in infos:
                table.add_row(o.name, o.type, _default_repr(o.default), o.help)
            out_console.print(table)

    return app
