"""Result records shared by the benchmark scripts: where results live, the machine they were
measured on, and atomic JSON writes (a result file is whole or absent, never half written).

Layout (see benchmarks/README.md): `benchmarks/results/quality/<cell>/result.json` and
`benchmarks/results/speed/<section>.json` are the small files the tables of
docs/benchmarks.md are made from; everything else under `benchmarks/results/` (run folders,
datasets, feature caches) is scratch and never committed (`benchmarks/results/.gitignore`).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
QUALITY = RESULTS / "quality"
QUALITY_EPYC = RESULTS / "quality-epyc"
"""Wall-clock cells measured on the 2-core AMD EPYC machine (a step of the audio-sheet defaults 1.37 s,
against 0.79-0.93 s on the Xeon of `QUALITY`, so a budget buys fewer steps): compared only with
one another."""
QUALITY_RERUN = RESULTS / "quality-rerun"
"""Cells of `QUALITY` run again at a later commit in the same session as the cells they are
paired with (a budget buys as many steps as the machine's speed that day allows)."""
SPEED = RESULTS / "speed"
DATA = RESULTS / "data"
DOC = REPO / "docs" / "benchmarks.md"
LMD = Path(os.environ.get("UGAAR_KIT_LMD", REPO.parent / "shared" / "data" / "lmd-lyrics-melody"))
PYTHON = ".venv/bin/python"
"""How the commands printed in the docs start (run from the repository root)."""


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def write_json(payload: Any, path: Path) -> None:
    """Write `payload` as indented JSON to a temporary file beside `path`, fsync, rename over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=1, sort_keys=False, allow_nan=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`, or None when the file is missing or not a JSON object."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError):
        pass
    return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def cpu_times(stat: Path = Path("/proc/stat")) -> list[int] | None:
    """The machine's aggregate CPU times (user, nice, system, idle, iowait, irq, softirq, steal),
    in clock ticks; None where the kernel does not expose them."""
    try:
        fields = stat.read_text(encoding="ascii").splitlines()[0].split()
    except (OSError, IndexError, UnicodeDecodeError):
        return None
    if len(fields) < 9 or fields[0] != "cpu":
        return None
    try:
        return [int(x) for x in fields[1:9]]
    except ValueError:
        return None


def steal_percent(before: list[int] | None, after: list[int] | None) -> float | None:
    """The share of CPU time a virtual machine's host took away between two `cpu_times`
    readings (the kernel's `steal`), in percent; None without both readings."""
    if before is None or after is None:
        return None
    total = sum(after) - sum(before)
    return None if total <= 0 else round(100.0 * (after[7] - before[7]) / total, 1)


def machine() -> dict[str, Any]:
    """What a timing depends on: cores, CPU model, RAM, library versions, torch threads, commit."""
    import numpy as np
    import torch

    return {
        "date": now(),
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": _cpu_model(),
        "ram_gib": _ram_gib(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "commit": _git_commit(),
    }


def machine_line(m: dict[str, Any], date: bool = True) -> str:
    """One line for a caption: `2 cores (AMD EPYC), 23.5 GiB RAM, torch 2.14.1, 1 torch thread, 2026-11-22`."""
    threads = m.get("torch_threads")
    line = (
        f"{m.get('nproc')} cores ({m.get('cpu')}), {m.get('ram_gib')} GiB RAM, torch {m.get('torch')}, "
        f"{threads} torch thread{'s' if threads != 1 else ''}"
    )
    return f"{line}, {str(m.get('date', ''))[:10]}" if date else line
