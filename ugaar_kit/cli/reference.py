"""Generates docs/cli.md from the Typer app itself, so the reference cannot drift from the code.

    python -m ugaar_kit.cli.reference > docs/cli.md      # regenerate
    python -m ugaar_kit.cli.reference --check docs/cli.md  # exit 1 if out of date (run by the tests)

Only the built-in plugins are loaded, so a locally installed third-party plugin does not leak
its commands into the reference.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from typer.cli import get_docs_for_click

from ugaar_kit.infra import envvars

HEADER = """# Command reference

Generated from the CLI by `python -m ugaar_kit.cli.reference > docs/cli.md`; a test fails when
this file is out of date. Every command also answers `--help`.

"""


def render() -> str:
    """The Markdown reference of every command and option."""
    os.environ[envvars.DISABLE_PLUGIN_AUTOLOAD] = "1"
    from ugaar_kit.cli.app import build_app

    app = build_app()
    command = typer.main.get_command(app)
    ctx = typer.Context(command, info_name="ugaar-kit")
    body = get_docs_for_click(obj=command, ctx=ctx, name="ugaar-kit", title="`ugaar-kit`")
    return HEADER + body.split("\n", 1)[1].lstrip("\n") if body.startswith("#") else HEADER + body


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if args[:1] == ["--check"]:
        target = Path(args[1])
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            print(f"{target} is out of date: run 'python -m ugaar_kit.cli.reference > {target}'", file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
