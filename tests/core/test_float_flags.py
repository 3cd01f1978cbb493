"""Every float flag of every command refuses NaN and infinities (NaN passes range checks)."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from ugaar_kit.cli.app import build_app


def float_flags() -> list[tuple[list[str], str]]:
    """(command path, flag) for every option of a float type in the CLI."""
    found = []

    def walk(cmd, path: list[str]) -> None:  # noqa: ANN001 - typer's own command classes
        for p in cmd.params:
            descriptor = getattr(p, "type_descriptor", None)
            if p.param_type_name == "option" and descriptor is not None and descriptor.annotation is float:
                found.append((path, max(p.opts, key=len)))
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(build_app()), [])
    return found


def test_the_cli_has_float_flags_to_check() -> None:
    assert {("embed", "--hop"), ("embed", "--window"), ("train", "--lr"), ("dataset build", "--tempo")} <= {
        (" ".join(path), flag) for path, flag in float_flags()
    }


@pytest.mark.parametrize(("path", "flag"), float_flags(), ids=lambda v: " ".join(v) if isinstance(v, list) else v)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_float_flag_refuses_non_finite_values(path: list[str], flag: str, value: str) -> None:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(build_app(), [*path, flag, value])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{flag}'" in result.output and "Traceback" not in result.output
