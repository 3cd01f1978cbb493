"""The environment variables ugaar-kit reads, in one place, and how their values are parsed.

| variable | effect |
|---|---|
| `UGAAR_KIT_STRICT_PLUGINS=1` | a broken plugin is an error, not a warning (for plugin CI) |
| `UGAAR_KIT_DISABLE_PLUGIN_AUTOLOAD=1` | load only the built-in plugins |
| `UGAAR_KIT_BLOCK_PLUGINS=a,b` | skip these entry points or distributions |
| `UGAAR_KIT_TRACEBACK=1` | show tracebacks instead of one-line errors |
| `UGAAR_KIT_EMBED_PAUSE=S` | sleep S seconds after each batch `embed` commits (tests interrupt it) |

Variables of other tools (torchrun's `RANK`, `WORLD_SIZE`, `LOCAL_RANK`) are read where they
are used, in `ugaar_kit.infra.distributed`.
"""

from __future__ import annotations

import os

STRICT_PLUGINS = "UGAAR_KIT_STRICT_PLUGINS"
DISABLE_PLUGIN_AUTOLOAD = "UGAAR_KIT_DISABLE_PLUGIN_AUTOLOAD"
BLOCK_PLUGINS = "UGAAR_KIT_BLOCK_PLUGINS"
TRACEBACK = "UGAAR_KIT_TRACEBACK"
EMBED_PAUSE = "UGAAR_KIT_EMBED_PAUSE"

_TRUE = {"1", "true", "yes", "on"}


def flag(name: str) -> bool:
    """True when `name` is set to 1, true, yes or on (any case, spaces ignored)."""
    return os.environ.get(name, "").strip().lower() in _TRUE


def names(name: str) -> set[str]:
    """A comma-separated list (`a,b`), blanks dropped."""
    return {part.strip() for part in os.environ.get(name, "").split(",") if part.strip()}


def seconds(name: str) -> float:
    """A number of seconds (0 when unset or empty)."""
    return float(os.environ.get(name) or 0)
