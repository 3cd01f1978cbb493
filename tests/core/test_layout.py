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
    from ugaar_kit.features.cache import CacheError
    from ugaar_kit.store.index import MissingExtra
    from ugaar_kit.toolkit.cca import BatchTooSmall

    assert (BatchTooSmall, MissingExtra, CacheError) == (errors.BatchTooSmall, errors.MissingExtra, errors.CacheError)


@pytest.mark.parametrize(
    ("pattern", "home"),
    [
        (r"\bos\.replace\(|\.replace\(path\)|mkstemp\(", "ugaar_kit/infra/atomic.py"),  # atomic writes
        (r"\bProgress\(", "ugaar_kit/infra/progress.py"),  # rich progress bars
        (
            r"environ\.get\(\s*[\"']UGAAR_KIT_|[\"']UGAAR_KIT_[A-Z_]+[\"']",
            "ugaar_kit/infra/envvars.py",
        ),  # our variables
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


# -- the core names no plugin and few modalities (issue 19) ------------------------------------
CORE = [p for p in sorted(ROOT.rglob("*.py")) if p.relative_to(ROOT).parts[0] not in ("cli", "testing")]
"""`ugaar_kit/` outside the CLI and the test kit (which may name the plugins they front)."""
BUILTIN_NAMES = {
    *("cnn", "flat", "hf", "doc2vec", "transformer", "prosody"),  # encoders
    *("ugaar", "dcca", "contrastive", "cca"),  # objectives
    *("musicxml", "lmd-lyrics", "manifest"),  # formats
}
OTHER_SENSES = {("build/notation.py", "flat"), ("store/index.py", "flat")}
"""The same words meaning something else: a flat accidental, faiss's flat (exact) index."""


def string_constants(path: Path) -> list[tuple[int, str]]:
    """(line, value) of every string literal of a module but its docstrings (module, class,
    function and attribute docstrings: any string standing alone as a statement)."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    bodies = [body for node in ast.walk(tree) if isinstance(body := getattr(node, "body", None), list)]
    docs = {
        id(stmt.value)
        for body in bodies
        for stmt in body
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
    }
    return [
        (n.lineno, n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
    ]


def test_the_core_names_no_built_in_plugin():
    """Defaults are what encoders declare (`Encoder.default`), baselines what plugins register,
    the demo what its recipe (a TOML file) says: no encoder, objective or format name is a string
    constant of the core."""
    found = [
        f"{p.relative_to(ROOT)}:{line} {value!r}"
        for p in CORE
        for line, value in string_constants(p)
        if value in BUILTIN_NAMES and (p.relative_to(ROOT).as_posix(), value) not in OTHER_SENSES
    ]
    assert not found, found


def test_the_core_names_the_built_in_modalities_in_one_place():
    """`ugaar_kit.interfaces.modality` names audio, sheet and lyrics (and `AUDIO`, `SHEET`, `LYRICS` stand
    for them elsewhere); a plugin's modality goes through every stage without the core naming it."""
    found = [
        f"{p.relative_to(ROOT)}:{line} {value!r}"
        for p in CORE
        for line, value in string_constants(p)
        if value in ("audio", "sheet", "lyrics")
    ]
    assert len(found) <= 10, found
    assert all(f.startswith("interfaces/modality.py:") for f in found), found


def test_no_core_module_is_over_450_lines():
    long = {
        p.relative_to(ROOT).as_posix(): n for p in CORE if (n := len(p.read_text(encoding="utf-8").splitlines())) > 450
    }
    assert not long, f"split them (one module, one job): {long}"


def test_the_core_has_no_import_cycle():
    """No module of `ugaar_kit` reaches itself through its imports (module-level or inside a
    function: both are a dependency), counting `from pkg import mod` as an import of `mod`."""
    import ast

    def name_of(p: Path) -> str:
        parts = list(p.relative_to(ROOT.parent).with_suffix("").parts)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    modules = {name_of(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                target = ".".join([*base, node.module] if node.module else base)
                subs = {f"{target}.{a.name}" for a in node.names} & modules.keys()
                deps |= subs | ({target} if target in modules and len(subs) < len(node.names) else set())
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names} & modules.keys()
        graph[name] = deps - {name}

    def cycle_from(start: str) -> list[str] | None:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in sorted(graph[node]):
                if nxt == start:
                    return [*path, start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
        return None

    cycles = [c for m in sorted(graph) if (c := cycle_from(m))]
    assert not cycles, " -> ".join(cycles[0])


def test_every_package_is_listed_in_pyproject():
    """setuptools installs only the packages pyproject.toml lists: a new subpackage must be there."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT.parent / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"]
    )
    found = {".".join(p.parent.relative_to(ROOT.parent).parts) for p in ROOT.rglob("__init__.py")}
    found |= {"ugaar_kit_plugins." + p.parent.name for p in (ROOT.parent / "plugins").glob("*/__init__.py")}
    found |= {"ugaar_kit_plugins"}
    assert found <= listed, sorted(found - listed)


def test_reading_a_run_imports_nothing_of_the_trainer():
    """`Run`, `eval`, `embed` and `search` read run folders through `ugaar_kit.runfolder` (its
    format), never through `ugaar_kit.training`."""
    fixture = ROOT.parent / "tests" / "fixtures" / "v0_1_0" / "run"
    code = (
        "import sys\n"
        "import ugaar_kit.inference.run, ugaar_kit.inference.embedding, ugaar_kit.retrieval.evaluation, ugaar_kit.retrieval.search, ugaar_kit.store.index\n"
        f"ugaar_kit.inference.run.Run.load({str(fixture)!r})\n"
        "print(sorted(m for m in sys.modules if m.startswith('ugaar_kit.training')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_console_script_imports_no_torch_until_a_command_needs_it():
    """`import ugaar_kit`, the CLI's modules and the dataset sources stay light: the build's
    spawned worker processes import the console script's module, and would otherwise each pay for
    torch, and so would `dataset build` itself (issue 20)."""
    code = (
        "import sys\n"
        "import ugaar_kit, ugaar_kit.cli.app, ugaar_kit.registry.components, ugaar_kit.build.render\n"
        "from ugaar_kit.registry.discovery import get_registry\n"
        "assert 'lmd-lyrics' in get_registry().names('dataset')  # dataset sources: no encoder loaded\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
