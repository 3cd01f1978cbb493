"""Errors the CLI shows as one line (no traceback): expected failures of input, options or plugins."""

from __future__ import annotations

from pathlib import Path


class UgaarError(Exception):
    """An expected failure, reported to the user as one line and a non-zero exit code."""

    exit_code = 2


class UgaarWarning(UserWarning):
    """Advice about a run that goes on (a poor setting, not an error): the CLI prints it as one
    `warning:` line, without the source line Python's warnings show."""


class OptionError(UgaarError):
    """An unknown option key or a value that does not fit its type or range."""


class PluginError(UgaarError):
    """A plugin that failed to import, register, or be found."""


class InputError(UgaarError):
    """A file that cannot be used: message is always '<path>: <problem>'."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
