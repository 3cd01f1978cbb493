"""Every command and snippet shown in README.md and docs/*.md, checked without running it: the
command names a real subcommand with options it accepts, `-o SLOT.key=value` names a real option,
Python compiles and imports what exists. Which commands also run: tests/docs/test_doc_workflow.py."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys

import pytest
import tomllib
from doc_cli_checks import (
    batch_problem,
    builtin_registry,
    free_names,
    option_name_problems,
    override_problems,
    parse_problems,
    train_config,
)
from doc_commands import (
    REPO,
    commands_in,
    doc_commands,
    doc_pages,
    inline_commands,
    inline_overrides,
    python_snippets,
)
from doc_workflow import PLAN, ParseOnly

from ugaar_kit.runfolder.config import parse_config

PAGES = doc_pages()
COMMANDS = [c for page in PAGES for c in doc_commands(page)]
SNIPPETS = [s for page in PAGES for s in python_snippets(page)]

# Names a snippet may leave to the reader: the plugin guide's own classes and items.
PLACEHOLDERS = {
    "docs/plugins.md": {"ChromaEncoder", "MyObjective", "raw_item_a", "raw_item_b"},
}
# `-o` options of components that exist only in the docs' examples.
HYPOTHETICAL_OPTIONS = {"audio.channels=24": "the `chroma` encoder that docs/plugins.md shows how to write"}


# -- the parser ----------------------------------------------------------------------------
PAGE = """\
Intro `ugaar-kit plugins show cnn` text.

```console
$ ugaar-kit train --data d \\
      --out r   # a comment
epoch 1/3  objective 1.2
$ FOO=1 python -m ugaar_kit eval r --json > out.json
```

```bash
# only a comment
ugaar-kit search --text "a # b" --index s.h5 --run r
torchrun --nproc_per_node 2 -m ugaar_kit train --objective dcca
```

```
ugaar-kit plugins
error: not a command
```

```text
error: unknown option
```

```python
print("not a shell command")
```
"""


def test_parser_joins_continuations_and_drops_prompts_output_and_comments():
    found = commands_in(PAGE, "page.md")
    assert [(c.line, c.text) for c in found] == [
        (4, "ugaar-kit train --data d --out r"),
        (7, "FOO=1 python -m ugaar_kit eval r --json > out.json"),
        (12, 'ugaar-kit search --text "a # b" --index s.h5 --run r'),
        (13, "torchrun --nproc_per_node 2 -m ugaar_kit train --objective dcca"),
        (17, "ugaar-kit plugins"),
    ]
    assert found[1].redirect == "out.json" and found[1].ugaar_args == ("eval", "r", "--json")
    assert found[2].ugaar_args == ("search", "--text", "a # b", "--index", "s.h5", "--run", "r")
    assert found[3].ugaar_args == ("train", "--objective", "dcca")


def test_parser_finds_commands_on_every_page_that_shows_some():
    pages = {c.page for c in COMMANDS}
    assert {"README.md", "docs/quickstart.md", "docs/training.md", "docs/evaluation.md", "docs/scaling.md"} <= pages
    assert "docs/cli.md" not in pages  # generated, tested by tests/core/test_cli_reference.py
    assert len(COMMANDS) >= 40


def test_checker_reports_what_is_wrong():
    assert parse_problems(("train", "--epoch", "3")) == ["No such option: --epoch (Possible options: --epochs)"]
    assert parse_problems(("trian",))[0].startswith("no command 'ugaar-kit trian'")
    assert parse_problems(("train", "-o", "audio.n_mel=3")) == ["-o audio.n_mel=3: audio 'cnn' has no option 'n_mel'"]
    assert parse_problems(("dataset", "build", "s", "--out", "o", "-o", "source.verse=2")) == [
        "-o source.verse=2: source 'lmd-lyrics' has no option 'verse'"
    ]
    assert parse_problems(("dataset", "build", "s", "--out", "o", "-f", "musicxml", "-o", "source.verse=2")) == []
    assert "unknown audio encoder 'cnnn'" in parse_problems(("train", "--audio", "cnnn"))[0]
    assert free_names("from x import y\ndef f(a):\n    return a + b + y\nprint(Path)\n") == {"b", "Path"}


# -- every command -------------------------------------------------------------------------
def test_every_command_is_run_or_has_a_reason():
    shown = {c.text for c in COMMANDS}
    missing = sorted(f"{c.where}: {c.text}" for c in COMMANDS if c.text not in PLAN)
    assert not missing, "classify these in tests/docs/doc_workflow.py PLAN:\n" + "\n".join(missing)
    assert not sorted(set(PLAN) - shown), "PLAN entries that no page shows any more"
    for text, step in PLAN.items():
        assert not isinstance(step, ParseOnly) or len(step.reason) > 10, text


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.ugaar_args is not None], ids=lambda c: c.where)
def test_command_parses_with_the_real_cli(command):
    assert command.ugaar_args is not None
    assert parse_problems(command.ugaar_args) == [], command.text


@pytest.mark.parametrize(
    "command", [c for page in PAGES for c in inline_commands(page) if c.ugaar_args], ids=lambda c: c.where
)
def test_command_in_the_prose_names_real_options(command):
    assert command.ugaar_args is not None
    assert option_name_problems(command.ugaar_args) == [], command.text


def test_component_options_in_the_prose_exist():
    problems = []
    for page in PAGES:
        for where, pair in inline_overrides(page):
            if pair.split(".")[0].isupper() or pair in HYPOTHETICAL_OPTIONS:  # SLOT.key=value
                continue
            problems += [f"{where}: {p}" for p in override_problems([pair], {}, builtin_registry())]
    assert not problems


def _script_help(script: str) -> str:
    proc = subprocess.run(
        [sys.executable, script, "--help"], cwd=REPO, capture_output=True, text=True, check=True, timeout=120
    )
    return proc.stdout


def test_other_programs_exist_and_take_the_options_shown():
    for c in COMMANDS:
        if c.ugaar_args is not None:
            continue
        words = list(c.argv)
        if words[0] == ".venv/bin/python":
            usage = _script_help(words[1])
            for word in words[2:]:
                if word.startswith("--"):
                    assert f"[{word}" in usage, f"{c.where}: {words[1]} has no option {word}"
        elif words[0] == "bash":
            assert (REPO / words[1]).is_file(), c.where
        elif words[0] == "pip":
            extra = words[-1].split("[")[1].rstrip("]")
            extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
            assert extra in extras, f"{c.where}: no extra '{extra}'"
        else:
            assert c.text in PLAN and isinstance(PLAN[c.text], ParseOnly), c.where


def _world_size(words: tuple[str, ...]) -> int:
    """Processes of a `torchrun` command (1 for anything else)."""
    if not words or words[0] != "torchrun":
        return 1
    n = 1
    for flag in ("--nproc_per_node", "--nnodes"):
        if flag in words:
            n *= int(words[words.index(flag) + 1])
    return n


TRAINS = [
    pytest.param(c, id=c.where)
    for c in COMMANDS
    if c.ugaar_args and c.ugaar_args[0] == "train" and "--resume" not in c.ugaar_args
]


@pytest.mark.parametrize("command", TRAINS)
def test_train_command_batch_suits_its_objective(command):
    """What the CI run of the workflow cannot see (it trains narrow encoders on small batches):
    at the documented sizes the batch is large enough for the objective."""
    assert command.ugaar_args is not None
    assert batch_problem(train_config(command.ugaar_args), _world_size(command.argv)) is None, command.text


# -- Python and TOML -----------------------------------------------------------------------
@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda s: s.where)
def test_python_snippet_compiles_and_names_what_exists(snippet):
    tree = ast.parse(compile(snippet.code, snippet.where, "exec", flags=ast.PyCF_ONLY_AST))
    unbound = free_names(snippet.code) - PLACEHOLDERS.get(snippet.page, set())
    assert not unbound, f"{snippet.where}: uses {sorted(unbound)} without importing or defining them"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0].startswith("ugaar_kit"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"{snippet.where}: {node.module} has no {alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("ugaar_kit"):
                    importlib.import_module(alias.name)


def _run_configs():
    """```toml blocks that are `train --config` files (they set a training setting)."""
    from doc_commands import fenced_blocks

    for page in PAGES:
        for block in fenced_blocks(page.read_text(encoding="utf-8")):
            if block.lang == "toml" and any(line.startswith(("data =", "epochs =")) for line in block.lines):
                yield pytest.param("\n".join(block.lines), id=f"{page.relative_to(REPO).as_posix()}:{block.line}")


@pytest.mark.parametrize("text", list(_run_configs()))
def test_config_file_example_is_a_valid_train_config(text):
    from ugaar_kit.interfaces.options import build

    registry = builtin_registry()
    config = parse_config(tomllib.loads(text), ("audio", "sheet", "lyrics", "objective"))
    assert batch_problem(config) is None
    for slot, spec in config.components.items():
        assert spec.name is not None, slot
        cls = registry.objective(spec.name) if slot == "objective" else registry.encoder(slot, spec.name)
        build(cls.Options, spec.options, prefix=slot)  # raises on an unknown option or a bad value
