"""A root app with the `embed`, `search`, `identify`, `locate`, `serve` and `store` commands over a registry (default: the
`store` parts of `ugaar_kit.testing.parts`), for tests of those commands.

    python -m ugaar_kit.testing.store_cli embed DATA --run RUN --out OUT

runs it as a program (the crash tests kill it mid-embed in a subprocess).
"""

from __future__ import annotations

import sys
from typing import Any

from ugaar_kit.registry.components import Registry
from ugaar_kit.testing import parts


def store_app(registry: Registry | None = None) -> Any:
    """The app: `embed`, `search`, `identify`, `locate`, `serve` and `store` over `registry`."""
    from ugaar_kit.cli import embed_cmd, identify_cmd, locate_cmd, search_cmd, serve_cmd, store_cmd
    from ugaar_kit.cli.base import App

    reg = registry if registry is not None else parts.registry("store")
    app = App(name="ugaar-kit", rich_markup_mode="markdown")

    @app.callback()
    def root() -> None:
        """Test root."""

    embed_cmd.add(app, lambda: reg)
    search_cmd.add(app, lambda: reg)
    identify_cmd.add(app, lambda: reg)
    locate_cmd.add(app, lambda: reg)
    serve_cmd.add(app, lambda: reg)
    app.add_typer(store_cmd.make(lambda: reg), name="store")
    return app


if __name__ == "__main__":
    store_app()(args=sys.argv[1:], prog_name="ugaar-kit")
