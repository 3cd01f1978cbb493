"""Errors the CLI shows as one line (no traceback): expected failures of input, options or plugins.

Every error class of the core lives here (the modules that raise them re-export theirs under the
names they had); a plugin defines its own as a subclass of one of these."""

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

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str]]:
        """Pickled as its path and problem (it crosses from worker processes whole)."""
        return (type(self), (self.path, self.problem))


class MissingExtra(UgaarError):
    """An optional dependency that is not installed (faiss): the message says how to install it."""


class BatchTooSmall(UgaarError, ValueError):
    """Too few rows for a covariance of this width: the CCA problem is degenerate."""


class CacheError(UgaarError):
    """A feature-cache file that is damaged or does not match its features: a training run
    rebuilds it; reading it for use reports it as an `InputError` on the file."""


class UploadRejected(UgaarError):
    """A query sent to `ugaar-kit serve` that it will not use (too large, too long, of a kind the
    run does not read); `status` is the HTTP status it is answered with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Refused(UgaarError):
    """A stored file `ugaar-kit serve` will not serve: outside every root the store records,
    behind a link out of its root, or missing."""
