"""docs/cli.md is generated from the Typer app; it must match the code."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_cli_reference_is_up_to_date():
    proc = subprocess.run(
        [sys.executable, "-m", "ugaar_kit.cli.reference", "--check", str(REPO / "docs" / "cli.md")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
