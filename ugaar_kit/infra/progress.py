"""Progress bars: one look for every long job (build, feature caches, training, eval, embed).

    with progress_bar("embedding", console=err_console, unit="files") as bar:
        embed_paths(..., on_progress=reporter(bar, "files"))

A bar shows its label, the bar, done/total, optionally a rate, the time elapsed and the time
left; `trailing` adds a text column fed by a task field (the trainer's running loss terms).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class Rate(ProgressColumn):
    """Items finished a second, named by their unit (`12.5 files/s`)."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f} {self.unit}/s" if speed else f"- {self.unit}/s")


def progress_bar(
    label: str = "{task.description}",
    *,
    console: Console | None = None,
    enabled: bool = True,
    transient: bool = True,
    unit: str | None = None,
    trailing: str | None = None,
) -> Progress:
    """A rich `Progress` with the toolkit's columns. `label` and `trailing` are rich format
    strings over the task (`{task.description}`, `{task.fields[name]}`); `unit` adds a rate
    column; `enabled=False` shows nothing (quiet runs, other processes than rank 0)."""
    columns: list[ProgressColumn] = [TextColumn(label), BarColumn(), MofNCompleteColumn()]
    if unit:
        columns.append(Rate(unit))
    columns += [TimeElapsedColumn(), TimeRemainingColumn()]
    if trailing:
        columns.append(TextColumn(trailing))
    return Progress(*columns, console=console, disable=not enabled, transient=transient)


def reporter(bar: Progress, description: str = "", **fields: Any) -> Callable[[int, int], None]:
    """An `on_progress(done, total)` callback for work that counts its own items: the task is
    added on the first call, when the total is known."""
    task: list[TaskID] = []

    def update(done: int, total: int) -> None:
        if not task:
            task.append(bar.add_task(description, total=total, **fields))
        bar.update(task[0], completed=done, total=total)

    return update
