"""The Typer subclass every command group uses: expected errors become one line and an exit code.

`UgaarError` (bad input, options, plugins) is printed as `error: <message>` on stderr and exits
with its code; set `UGAAR_KIT_TRACEBACK=1` to see the traceback instead.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TextIO

import typer
from rich.console import Console, ConsoleDimensions

from ugaar_kit.errors import UgaarError, UgaarWarning
from ugaar_kit.infra import envvars

PIPED_WIDTH = 1000
"""Columns of standard output when it is not a terminal: room for the widest table."""


class CliConsole(Console):
    """A console whose tables are never cut when its output is not a terminal (piped into a
    file or another program, where rich would assume 80 columns and squeeze numbers to `0.0…`):
    it is then `PIPED_WIDTH` wide, and a table takes only the room it needs. `COLUMNS` and an
    explicit width still decide."""

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self._width is None and not self.is_terminal and "COLUMNS" not in self._environ:
            return ConsoleDimensions(PIPED_WIDTH, size.height)
        return size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


err_console = Console(stderr=True, highlight=False, soft_wrap=True)
out_console = CliConsole(highlight=False)


def show_tracebacks() -> bool:
    return envvars.flag(envvars.TRACEBACK)


def report(exc: UgaarError) -> None:
    """Print an expected error as one line on stderr."""
    from rich.markup import escape

    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True)


def one_line_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command so a UgaarError exits with one line instead of a traceback, and a
    UgaarWarning is one `warning:` line."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                shown = warnings.showwarning

                def show(
                    message: Warning | str,
                    category: type[Warning],
                    filename: str,
                    lineno: int,
                    file: TextIO | None = None,
                    line: str | None = None,
                ) -> None:
                    if issubclass(category, UgaarWarning):
                        from rich.markup import escape

                        err_console.print(f"[yellow]warning:[/] {escape(str(message))}", markup=True)
                    else:
                        shown(message, category, filename, lineno, file, line)

                warnings.showwarning = show
                return func(*args, **kwargs)
        except UgaarError as exc:
            if show_tracebacks():
                raise
            report(exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("interrupted; work written so far is kept (re-run the command to resume)")
            raise typer.Exit(130) from None

    return wrapper


class App(typer.Typer):
    """typer.Typer whose commands and callbacks report UgaarError in one line."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("no_args_is_help", True)
        kwargs.setdefault("pretty_exceptions_enable", False)
        kwargs.setdefault("context_settings", {"help_option_names": ["-h", "--help"]})
        super().__init__(**kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:  # type: ignore[override]
        register = super().command(*args, **kwargs)
        return lambda func: register(one_line_errors(func))

    def callback(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:  # type: ignore[override]
        register = super().callback(*args, **kwargs)
        return lambda func: register(one_line_errors(func))
