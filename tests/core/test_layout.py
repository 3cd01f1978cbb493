"""One place for each mechanism: errors, atomic writes, progress bars and environment flags each
live in one module of the core, and nothing else in `ugaar_kit/` or the built-in plugins does
them its own way."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import ugaar_kit
from ugaar_kit import errors

ROOT = Path(ugaar_kit.__file__).parent
SOURCES = sorted([*ROOT.rglob("*.py"), *(ROOT.parent / "plugins").rglob("*.py")])


def core_modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages([str(ROOT)], prefix="ugaar_kit.")]
    return [n for n in names if not n.endswith("__main__")]


def test_every_error_class_of_the_core_is_in_errors_and_is_a_ugaar_error():
    found = []
    for name in core_modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseException) and cls.__module__.startswith("ugaar_kit"):
                found.append(cls)
                assert cls.__module__ == "ugaar_kit.errors", f"{cls.__qualname__} is defined in {cls.__module__}"
                assert issubclass(cls, (errors.UgaarError, errors.UgaarWarning)), cls
    assert errors.CacheError in found and errors.BatchTooSmall in found


def test_old_import_paths_of_moved_errors_still_work():
    from ugaar_kit.cca import BatchTooSmall
    from ugaar_kit.store.index import MissingExtra
    from ugaar_kit.training.feature_cache import CacheError

    assert (BatchTooSmall, MissingExtra, CacheError) == (errors.BatchTooSmall, errors.MissingExtra, errors.CacheError)


@pytest.mark.parametrize(
    ("pattern", "home"),
    [
        (r"\bos\.replace\(|\.replace\(path\)|mkstemp\(", "ugaar_kit/atomic.py"),  # atomic writes
        (r"\bProgress\(", "ugaar_kit/progress.py"),  # rich progress bars
        (r"environ\.get\(\s*[\"']UGAAR_KIT_|[\"']UGAAR_KIT_[A-Z_]+[\"']", "ugaar_kit/envvars.py"),  # our variables
    ],
)
def test_a_mechanism_has_one_home(pattern, home):
    rx = re.compile(pattern)
    elsewhere = [
        f"{p.relative_to(ROOT.parent)}:{i}"
        for p in SOURCES
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if rx.search(line) and p.relative_to(ROOT.parent).as_posix() != home
    ]
    assert not elsewhere, f"do it through {home}: {elsewhere}"


TESTS = ROOT.parent / "tests"


def test_no_test_module_edits_sys_path():
    """Benchmark scripts come through pytest's `pythonpath` (pyproject.toml), test helpers from
    `ugaar_kit.testing`: nothing under tests/ puts a folder on `sys.path` by hand."""
    rx = re.compile(r"sys\.path\.(insert|append)\(")
    found = [
        f"{p.relative_to(ROOT.parent)}:{i}"
        for p in sorted(TESTS.rglob("*.py"))
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if rx.search(line)
    ]
    assert not found, f"import through ugaar_kit.testing or pytest's pythonpath instead: {found}"


def test_the_shared_test_kit_replaces_the_per_folder_helpers():
    """The tiny parts, datasets and runs live once, in `ugaar_kit.testing`, and import without pytest."""
    old = ["tests/training/tiny_parts.py", "tests/store/fake_run.py", "tests/eval/eval_parts.py"]
    assert not [p for p in old if (ROOT.parent / p).exists()]
    modules = [f"ugaar_kit.testing.{p.stem}" for p in sorted((ROOT / "testing").glob("[!_]*.py"))]
    assert {"ugaar_kit.testing.parts", "ugaar_kit.testing.data", "ugaar_kit.testing.runs"} <= set(modules)
    code = "import sys; sys.modules['pytest'] = None\n" + "".join(f"import {m}\n" for m in modules)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
