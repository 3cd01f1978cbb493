"""The CLI frame through typer.testing, against apps built from registries the tests control."""

from __future__ import annotations

import json
from dataclasses import dataclass

from typer.testing import CliRunner

from ugaar_kit import __version__
from ugaar_kit.cli.app import build_app
from ugaar_kit.interfaces.encoder import Encoder
from ugaar_kit.interfaces.objective import Objective
from ugaar_kit.interfaces.options import option
from ugaar_kit.registry.components import Registry

runner = CliRunner()


@dataclass(frozen=True)
class CnnOptions:
    n_mels: int = option(80, "Mel bands of the spectrogram.", min=8)


class AudioCnn(Encoder):
    name = "cnn"
    modality = "audio"
    description = "Audio CNN."
    Options = CnnOptions


class SheetCnn(Encoder):
    name = "cnn"
    modality = "sheet"
    description = "Sheet CNN."


class Dcca(Objective):
    name = "dcca"
    description = "Deep CCA."


def registry() -> Registry:
    reg = Registry()
    for cls in (AudioCnn, SheetCnn, Dcca):
        reg.add(cls, "test-dist", "9.9", "test-plugin")
    return reg


def test_version():
    result = runner.invoke(build_app(registry()), ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"ugaar-kit {__version__}"


def test_plugins_json_lists_components():
    result = runner.invoke(build_app(registry()), ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["name"], r["kind"], r["modality"]) for r in rows] == [
        ("cnn", "encoder", "audio"),
        ("cnn", "encoder", "sheet"),
        ("dcca", "objective", None),
    ]
    assert {k for r in rows for k in r} >= {"name", "kind", "modality", "distribution", "version"}
    assert rows[0]["distribution"] == "test-dist" and rows[0]["version"] == "9.9"


def test_plugins_table():
    result = runner.invoke(build_app(registry()), ["plugins"])
    assert result.exit_code == 0
    assert "test-dist" in result.stdout and "dcca" in result.stdout


def test_plugins_show_options():
    result = runner.invoke(build_app(registry()), ["plugins", "show", "audio/cnn", "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["options"] == [{"name": "n_mels", "type": "int", "default": 80, "help": "Mel bands of the spectrogram."}]
    table = runner.invoke(build_app(registry()), ["plugins", "show", "cnn"])
    assert "audio/cnn" in table.stdout and "sheet/cnn" in table.stdout and "n_mels" in table.stdout


def test_unknown_component_is_one_line_error():
    result = runner.invoke(build_app(registry()), ["plugins", "show", "vgg"])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: no component named 'vgg'")
    assert "Traceback" not in result.output


def test_traceback_on_request(monkeypatch):
    monkeypatch.setenv("UGAAR_KIT_TRACEBACK", "1")
    result = runner.invoke(build_app(registry()), ["plugins", "show", "vgg"])
    assert result.exit_code != 0 and result.exception is not None


def test_help_explains_commands():
    result = runner.invoke(build_app(registry()), ["--help"])
    assert result.exit_code == 0 and "plugins" in result.stdout
