"""The documented workflows, run command by command in a scratch folder.

Each page's commands run in the order the page shows them, exactly as written but for the
substitutions of tests/docs/doc_workflow.py's PLAN (paths, and in CI narrow encoders, one epoch,
small pools). The `slow` variant drops the CI sizes: the documented encoders and batch sizes, two epochs, on
more songs. The Python snippets of the pages that use a trained run are executed afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import types
from pathlib import Path

import pytest
from doc_commands import REPO, doc_commands, python_snippets
from doc_workflow import PLAN, WORKFLOW_PAGES, Execute, Workspace

# CI trains 8-wide encoders on batches of 16: deep CCA rightly warns that this is too few rows.
pytestmark = pytest.mark.filterwarnings("ignore:dcca. batch of .* rows is below:UserWarning")


def run_page(ws: Workspace, page: str) -> list[str]:
    """Run every command of `page` that PLAN executes; returns the commands it only parse-checks."""
    skipped = []
    for command in doc_commands(REPO / page):
        step = PLAN[command.text]
        if isinstance(step, Execute):
            ws.run(command, step)
        else:
            skipped.append(command.text)
    return skipped


def snippet(page: str, contains: str) -> str:
    [code] = [s.code for s in python_snippets(REPO / page) if contains in s.code]
    return code


def exec_snippet(code: str, replace: dict[str, str] | None = None, names: dict | None = None) -> dict:
    """Run a snippet after replacing text in it (each `old` must be there), with `names` defined."""
    for old, new in (replace or {}).items():
        assert old in code, f"the snippet no longer holds {old!r}"
        code = code.replace(old, new)
    module = types.ModuleType("doc_snippet")  # a real module, so type hints of its classes resolve
    module.__dict__.update(names or {})
    sys.modules[module.__name__] = module
    exec(compile(code, "<doc snippet>", "exec"), module.__dict__)  # noqa: S102 - the docs' own example code
    return module.__dict__


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return Workspace(tmp_path)


def test_readme_commands(workspace: Workspace):
    """README.md's "Using it": build from MusicXML scores, train UGAAR, evaluate, embed, search."""
    workspace.add_scores()
    skipped = run_page(workspace, "README.md")
    assert skipped == [
        "bash scripts/demo.sh",
        "bash scripts/test.sh",
        ". .venv/bin/activate",
        "ugaar-kit serve collection.h5 --run runs/ugaar",  # serves until stopped: tests/serve
    ]
    assert (workspace.root / "collection.h5").is_file()


def run_workflow(ws: Workspace, lmd_dir: Path) -> None:
    ws.add_scores()
    ws.add_lmd(lmd_dir)
    for page in WORKFLOW_PAGES:
        run_page(ws, page)
    # quickstart.md "From Python": a run and a store of the collection
    for name in ("a.wav", "b.wav"):
        shutil.copy(ws.root / "query.wav", ws.root / name)
    ns = exec_snippet(snippet("docs/quickstart.md", "Run.load"))
    assert tuple(ns["z"].shape) == (2, ns["run"].shared_dim)
    # training.md "From Python": the run training.md made and resumed
    ns = exec_snippet(snippet("docs/training.md", "run.embed"))
    assert tuple(ns["z_lyrics"].shape) == (1, ns["run"].shared_dim)
    assert len(ns["run"].metrics) == ns["run"].metrics[-1]["epoch"]
    # training.md "To train from Python": one small epoch instead of five
    exec_snippet(
        snippet("docs/training.md", "train(config"),
        {
            '"songs-ds"': '"data/lmd"',
            '"epochs": 5': '"epochs": 1, "batch_size": 16, "workers": 0',
            '{"audio": {"n_mels": 92}}': '{"audio": {"n_mels": 92, **TINY}, "sheet": TINY}',
        },
        {"TINY": {"channels": "4,4,4,4", "hidden": 0, "dim": 8}},
    )
    assert (ws.root / "runs" / "x" / "model.pt").is_file()
    # evaluation.md "From Python": the small test split holds a few candidates, not 1000
    ns = exec_snippet(snippet("docs/evaluation.md", "evaluate("), {"pool=1000": "pool=5"})
    assert 0 < ns["result"]["directions"]["audio->sheet"]["MRR"] <= 1


@pytest.mark.data
def test_quickstart_training_evaluation_scaling(workspace: Workspace, lmd_dir: Path):
    """docs/quickstart.md, then training.md, evaluation.md and scaling.md in the same folder."""
    run_workflow(workspace, lmd_dir)


def test_benchmark_commands(workspace: Workspace):
    """docs/benchmarks.md: `quality.py --list` and `report.py` (on a copy of the page) run; the
    others take an hour or days."""
    skipped = run_page(workspace, "docs/benchmarks.md")
    assert sorted(skipped) == [
        ".venv/bin/python benchmarks/quality.py",
        ".venv/bin/python benchmarks/quality.py --only defaults",
        ".venv/bin/python benchmarks/quality.py --only evidence --shard 1/2",
        ".venv/bin/python benchmarks/quality.py --only evidence --shard 2/2",
        ".venv/bin/python benchmarks/speed.py",
        ".venv/bin/python benchmarks/speed.py --only search",
    ]


@pytest.mark.slow
@pytest.mark.data
def test_workflow_full_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lmd_dir: Path):
    """quickstart.md to scaling.md at the documented encoder and batch sizes, two epochs, on 23
    songs (the documented 30 epochs on 300 songs take hours: the quality benchmark does that)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    run_workflow(Workspace(tmp_path, slow=True), lmd_dir)


def test_substitutions_only_touch_paths_sizes_and_pools():
    """What PLAN changes in a documented command: paths, `--limit-songs`/`--epochs`/pool
    numbers, and CI-size flags appended at the end; never an option name the page shows."""
    for text, step in PLAN.items():
        if not isinstance(step, Execute):
            continue
        for old, new in step.replace.items():
            assert not old.startswith("-") and not new.startswith("-"), text
            assert re.fullmatch(r"[\w/.~-]+", old), text


def test_manifest_snippet_writes_a_dataset_folder(workspace: Workspace):
    """docs/datasets.md: a manifest of your own files becomes a dataset folder."""
    from PIL import Image

    from ugaar_kit.interfaces.dataset import DatasetFolder

    mine = workspace.root / "mine"
    mine.mkdir()
    rows = ["song,sheet,lyrics"]
    for k in range(6):
        Image.new("L", (40 + k, 16), color=255).save(mine / f"s{k}.png")
        rows.append(f"song{k // 2},s{k}.png,line number {k} of the song")
    (mine / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    exec_snippet(snippet("docs/datasets.md", "ManifestSource"))
    items = DatasetFolder(workspace.root / "data" / "mine").items
    assert len(items) == 6 and {it.split for it in items} <= {"train", "valid", "test"}


def test_plugin_options_snippet_defines_options():
    """docs/plugins.md: the options dataclass of the guide, as `plugins show` would list it."""
    from ugaar_kit.interfaces.options import build, describe

    ns = exec_snippet(snippet("docs/plugins.md", "class ChromaOptions"))
    options = ns["ChromaOptions"]
    assert [o.name for o in describe(options)] == ["dim", "channels", "pooling"]
    assert build(options, {"channels": "24"}, prefix="audio").channels == 24
