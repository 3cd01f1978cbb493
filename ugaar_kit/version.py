"""The installed ugaar-kit's version (`ugaar_kit.__version__`), in a module of its own so any
module can name it without importing the package's top level."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ugaar-kit")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
