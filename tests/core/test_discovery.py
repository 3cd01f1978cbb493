"""Discovery through real entry points: distributions on sys.path, as pip would install them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from plugin_factory import BROKEN_IMPORT, DUPLICATE, GOOD_PLUGIN, MISSPELT_HOOK, make_distribution

from ugaar_kit.errors import PluginError
from ugaar_kit.registry.discovery import load_registry


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    for var in ("UGAAR_KIT_STRICT_PLUGINS", "UGAAR_KIT_DISABLE_PLUGIN_AUTOLOAD", "UGAAR_KIT_BLOCK_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_builtins_come_through_the_entry_point_group():
    reg, loader = load_registry()
    builtin = {name for name, info in loader.info.items() if info.distribution == "ugaar-kit"}
    assert {"audio-cnn", "objective-dcca", "dataset-lmd"} <= builtin


def test_example_plugin_package_is_discovered():
    """examples/ugaar-kit-example-encoder is pip-installed by the test command (editable)."""
    reg, _ = load_registry()
    comp = reg.get("encoder", "syllables", "lyrics")
    assert comp.distribution == "ugaar-kit-example-encoder"
    assert comp.version == "0.1.0"


def test_third_party_distribution_is_registered_with_its_name(site):
    make_distribution(site, "ugaar-chroma", "ugaar_chroma", GOOD_PLUGIN, version="1.2.3")
    reg, _ = load_registry()
    comp = reg.get("encoder", "chroma", "audio")
    assert (comp.distribution, comp.version, comp.plugin) == ("ugaar-chroma", "1.2.3", "ugaar_chroma")
    assert not reg.problems


def test_broken_plugin_is_reported_in_one_line_and_skipped(site):
    make_distribution(site, "ugaar-chroma", "ugaar_chroma", GOOD_PLUGIN)
    make_distribution(site, "ugaar-broken", "ugaar_broken", BROKEN_IMPORT)
    reg, _ = load_registry()
    assert reg.get("encoder", "chroma", "audio")  # the others still load
    [problem] = reg.problems
    assert "ugaar-broken" in problem and "ModuleNotFoundError" in problem and "\n" not in problem
    assert problem.endswith("; skipped")


def test_strict_mode_raises(site, monkeypatch):
    make_distribution(site, "ugaar-broken", "ugaar_broken", BROKEN_IMPORT)
    monkeypatch.setenv("UGAAR_KIT_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="ugaar-broken") as err:
        load_registry()
    # nothing is skipped in strict mode: the message says what stops, not "skipped"
    assert "skipped" not in str(err.value) and str(err.value).endswith("(UGAAR_KIT_STRICT_PLUGINS is set: stopping)")


def test_duplicate_name_names_both_distributions(site):
    make_distribution(site, "ugaar-chroma", "ugaar_chroma", GOOD_PLUGIN)
    make_distribution(site, "ugaar-zz-dupe", "ugaar_zz_dupe", DUPLICATE)
    reg, _ = load_registry()
    assert reg.get("encoder", "chroma", "audio").distribution == "ugaar-chroma"
    [problem] = reg.problems
    assert "registered twice" in problem and "ugaar-chroma" in problem and "ugaar-zz-dupe" in problem


def test_misspelt_hook_is_reported(site):
    make_distribution(site, "ugaar-typo", "ugaar_typo", MISSPELT_HOOK)
    reg, _ = load_registry()
    [problem] = reg.problems
    assert "ugaar-typo" in problem and "register_encoder" in problem
    assert "(did you mean 'register_encoders'?)" in problem


def test_autoload_off_keeps_builtins_only(site, monkeypatch):
    make_distribution(site, "ugaar-chroma", "ugaar_chroma", GOOD_PLUGIN)
    monkeypatch.setenv("UGAAR_KIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    reg, loader = load_registry()
    assert {info.distribution for info in loader.info.values()} == {"ugaar-kit"}
    assert not reg.find("chroma")


def test_block_one_plugin(site, monkeypatch):
    make_distribution(site, "ugaar-broken", "ugaar_broken", BROKEN_IMPORT)
    monkeypatch.setenv("UGAAR_KIT_BLOCK_PLUGINS", "ugaar-broken")
    reg, _ = load_registry()
    assert not reg.problems


def test_cli_still_works_with_a_broken_plugin(site):
    """End to end in a fresh process: a warning line, then the command's normal output."""
    make_distribution(site, "ugaar-broken", "ugaar_broken", BROKEN_IMPORT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "ugaar_kit", "plugins", "--json"], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and "ugaar-broken" in warnings[0] and "warning" in warnings[0]
    rows = json.loads(proc.stdout)
    assert any(r["name"] == "syllables" and r["distribution"] == "ugaar-kit-example-encoder" for r in rows)
