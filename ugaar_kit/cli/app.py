"""The root `ugaar-kit` app: built by a function so tests can hand it their own registry."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from typing import Annotated

import typer

from ugaar_kit.cli import (
    dataset_cmd,
    demo_cmd,
    embed_cmd,
    eval_cmd,
    identify_cmd,
    locate_cmd,
    plugins_cmd,
    search_cmd,
    serve_cmd,
    store_cmd,
    train_cmd,
)
from ugaar_kit.cli.base import App, err_console, report, show_tracebacks
from ugaar_kit.errors import UgaarError
from ugaar_kit.registry.components import Registry
from ugaar_kit.registry.discovery import get_plugin_manager, get_registry
from ugaar_kit.version import __version__

HELP = """Sheet music, audio and lyrics in one embedding space.

Build triplet datasets from songs, train encoders with deep CCA, UGAAR or contrastive
objectives, embed collections into HDF5 and search across modalities. Components come from
plugins: `ugaar-kit plugins` lists them."""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ugaar-kit {__version__}")
        raise typer.Exit()


def build_app(
    registry: Registry | Callable[[], Registry] | None = None, load_plugin_commands: bool = True
) -> typer.Typer:
    """The CLI. `registry`: a Registry or a factory for one (default: the installed plugins)."""
    if registry is None:
        get = get_registry
    elif isinstance(registry, Registry):
        fixed = registry
        get = lambda: fixed  # noqa: E731
    else:
        get = registry
    warned: list[bool] = []

    def checked_registry() -> Registry:
        reg = get()
        if not warned:
            warned.append(True)

            def warn(problem: str) -> None:
                err_console.print(f"[yellow]warning:[/] {problem}", markup=True)

            for problem in reg.problems:
                warn(problem)
            reg.on_problem = warn  # problems of kinds filled later (a broken encoder plugin)
        return reg

    app = App(name="ugaar-kit", help=HELP, rich_markup_mode="markdown")

    @app.callback()
    def root(
        version: Annotated[
            bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
        ] = False,
    ) -> None:
        """Sheet music, audio and lyrics in one embedding space."""

    # In the order of the work: the demo, data, training, evaluation, embedding, search and
    # identification, housekeeping.
    demo_cmd.add(app, checked_registry)
    app.add_typer(dataset_cmd.make(checked_registry), name="dataset")
    train_cmd.add(app, checked_registry)
    eval_cmd.add(app, checked_registry)
    embed_cmd.add(app, checked_registry)
    search_cmd.add(app, checked_registry)
    identify_cmd.add(app, checked_registry)
    locate_cmd.add(app, checked_registry)
    serve_cmd.add(app, checked_registry)
    app.add_typer(store_cmd.make(checked_registry), name="store")
    app.add_typer(plugins_cmd.make(checked_registry), name="plugins")

    if load_plugin_commands and registry is None:
        get_plugin_manager().hook.register_commands(app=app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Console entry point: expected errors become one line on stderr and a non-zero exit.

    However the command ends, every object left is moved to the collector's permanent generation
    (`gc.freeze`), so the interpreter's shutdown does not walk the hundreds of thousands of
    objects importing torch creates: that walk was about 0.5 s of every command that loads a
    model (benchmarks/speed.py --only search). Objects are still finalised and files closed;
    only the collector's passes are skipped, and the process ends right after."""
    try:
        app = build_app()
        app(args=argv, prog_name="ugaar-kit")
    except UgaarError as exc:
        if show_tracebacks():
            raise
        report(exc)
        sys.exit(exc.exit_code)
    finally:
        gc.freeze()


if __name__ == "__main__":
    main()
