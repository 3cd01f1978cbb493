"""The import paths of 0.1.0 keep working for one release (`ugaar_kit._moved`), and nothing in
this repository uses them any more."""

from __future__ import annotations

import contextlib
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import ugaar_kit
from ugaar_kit._moved import MOVED, new_home

REPO = Path(ugaar_kit.__file__).parent.parent


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_path_is_the_module_at_its_new_home(old):
    first = old not in sys.modules
    with pytest.warns(DeprecationWarning, match=re.escape(MOVED[old])) if first else contextlib.nullcontext():
        module = importlib.import_module(old)
    new = importlib.import_module(MOVED[old])
    assert module is new
    assert module.__spec__ is not None and module.__spec__.name == MOVED[old]


def test_the_names_plugins_used_in_0_1_0_still_import():
    """The public paths named by issue 19, each as a plugin of 0.1.0 wrote it."""
    code = """
import warnings
warnings.simplefilter("error", DeprecationWarning)
warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
import importlib
names = {
    "ugaar_kit.encoder": ["Encoder", "Batch", "masked_mean"],
    "ugaar_kit.options": ["option", "NoOptions"],
    "ugaar_kit.errors": ["InputError", "OptionError", "UgaarError"],
    "ugaar_kit.media": ["load_audio", "load_image", "load_lyrics"],
    "ugaar_kit.layers": ["MaskedPool", "DenseHead"],
    "ugaar_kit.testing": ["check_encoder", "check_objective"],
    "ugaar_kit.objective": ["Objective"],
    "ugaar_kit.dataset": ["ScoreSource", "ItemSource", "Item", "DatasetFolder"],
    "ugaar_kit.rows": ["TextLines"],
    "ugaar_kit.discovery": ["get_registry"],
    "ugaar_kit.run": ["Run"],
    "ugaar_kit.embedding.files": ["prepare"],
}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for module, attrs in names.items():
        m = importlib.import_module(module)
        for a in attrs:
            getattr(m, a)
print(sorted({str(w.message).split()[0] for w in caught if w.category is DeprecationWarning}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    warned = done.stdout.strip()
    for old in ("ugaar_kit.encoder", "ugaar_kit.options", "ugaar_kit.media", "ugaar_kit.layers", "ugaar_kit.run"):
        assert repr(old) in warned
    for kept in ("ugaar_kit.errors", "ugaar_kit.testing"):
        assert repr(kept) not in warned


def test_new_home_follows_a_moved_package_and_leaves_the_rest():
    assert new_home("ugaar_kit.embedding.pipeline") == "ugaar_kit.inference.embedding.pipeline"
    assert new_home("ugaar_kit.training.trainer") is None
    assert new_home("ugaar_kit.registry") is None
    assert new_home("ugaar_kit.errors") is None


OLD = re.compile(r"\b(" + "|".join(re.escape(o) for o in sorted(MOVED, key=len, reverse=True)) + r")\b(?![/\w])")
SCANNED = ["ugaar_kit", "plugins", "tests", "benchmarks", "examples", "docs", "scripts", "README.md", "CONTRIBUTING.md"]
ALLOWED = {"ugaar_kit/_moved.py", "tests/core/test_moved_paths.py"}


def test_nothing_here_uses_an_old_path():
    """Code and docs name the new homes; only `_moved` (and this test) knows the old ones."""
    files = [p for s in SCANNED for p in ([REPO / s] if (REPO / s).is_file() else sorted((REPO / s).rglob("*")))]
    found = [
        f"{p.relative_to(REPO)}:{i}: {m.group(0)}"
        for p in files
        if p.suffix in (".py", ".md", ".toml", ".sh")
        and p.relative_to(REPO).as_posix() not in ALLOWED
        and "fixtures" not in p.parts
        and ".venv" not in p.parts
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        for m in OLD.finditer(line)
    ]
    assert not found, found
