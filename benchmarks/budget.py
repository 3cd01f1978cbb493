"""Audio–sheet retrieval at the defaults a user gets, under a wall-clock training budget.

    .venv/bin/python benchmarks/budget.py                               # contrastive, 15 min, seeds 0 1 2
    .venv/bin/python benchmarks/budget.py --tag noaug --seeds 0 \\
        -o audio.stretch=0 -o audio.freq_mask=0 -o audio.time_mask=0 -o sheet.stretch=0 -o sheet.shift=0
    .venv/bin/python benchmarks/budget.py --max-time 5m --tag 5m --seeds 0   # a point of the learning curve
    .venv/bin/python benchmarks/budget.py --table                       # every result as a markdown table

A cell is exactly what a user runs on the pinned build:

    ugaar-kit train --data DATA --out RUN --objective contrastive --audio cnn --sheet cnn \\
        --max-time 15m --seed S [-o ...]
    ugaar-kit eval RUN --data DATA --split test --json

on `results/data/lmd-200/`: 200 songs of the shared LMD sample through `ugaar-kit dataset build
--format lmd-lyrics` at the build defaults (one lyric line a passage, verbatim repeats merged,
split by song 0.8/0.1/0.1, lossless audio), built on first use. Its test split has 800
candidates, below the 1,000 of the quality grid's pools, so the whole test split is the pool.
Each cell writes `results/budget/<tag>-<objective>-<max_time>-s<seed>/result.json` (kept in git)
beside its run folder (scratch); a cell with a result is not run again, a trained one is only
evaluated. Run one cell at a time on a quiet machine: the budget is wall-clock time, so a
loaded machine trains fewer steps.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from records import DATA, LMD, PYTHON, RESULTS, machine, now, read_json, write_json

BUDGET = RESULTS / "budget"
SONGS = 200
RESULT = "result.json"
EVAL = "eval.json"
"""`ugaar-kit eval RUN --split test --json` as it printed, kept so a result can be rebuilt."""
FORMAT = "ugaar-kit-benchmark-budget"
DIRECTIONS = ("audio->sheet", "sheet->audio")


def cell_name(tag: str, objective: str, max_time: str, seed: int) -> str:
    return f"{tag}-{objective}-{max_time}-s{seed}"


def train_command(data: Path, run: Path, objective: str, max_time: str, seed: int, options: Sequence[str]) -> list[str]:
    cmd = [sys.executable, "-m", "ugaar_kit", "train", "--data", str(data), "--out", str(run)]
    cmd += ["--objective", objective, "--audio", "cnn", "--sheet", "cnn", "--max-time", max_time, "--seed", str(seed)]
    for o in options:
        cmd += ["-o", o]
    return cmd


def shown(cmd: Sequence[str]) -> str:
    """The command as the docs print it (`ugaar-kit ...`, paths relative to the repository)."""
    parts = ["ugaar-kit", *cmd[3:]] if cmd[:3] == [sys.executable, "-m", "ugaar_kit"] else list(cmd)
    root = str(Path.cwd()) + "/"
    return " ".join(p.replace(root, "") for p in parts)


def run_cell(data: Path, tag: str, objective: str, max_time: str, seed: int, options: Sequence[str]) -> dict[str, Any]:
    """Train (or resume, or skip when trained) and evaluate one cell; its result record."""
    folder = BUDGET / cell_name(tag, objective, max_time, seed)
    done = read_json(folder / RESULT)
    if done is not None:
        return done
    run = folder / "run"
    cmd = train_command(data, run, objective, max_time, seed, options)
    if not (run / "model.pt").is_file():
        if (run / "config.toml").is_file():
            cmd = [sys.executable, "-m", "ugaar_kit", "train", "--resume", str(run)]
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        with (folder / "train.log").open("a", encoding="utf-8") as log:
            subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)
        print(f"{folder.name}: trained in {time.perf_counter() - started:.0f} s")
    evaluation = read_json(folder / EVAL)
    if evaluation is None:
        out = subprocess.run(
            [sys.executable, "-m", "ugaar_kit", "eval", str(run), "--data", str(data), "--split", "test", "--json"],
            check=True,
            capture_output=True,
            text=True,
        )
        evaluation = json.loads(out.stdout)
        write_json(evaluation, folder / EVAL)
    info = read_json(run / "run.json") or {}
    result = {
        "format": FORMAT,
        "cell": {"tag": tag, "objective": objective, "max_time": max_time, "seed": seed, "options": list(options)},
        "command": shown(train_command(data, run, objective, max_time, seed, options)),
        "directions": evaluation["directions"],
        "items": evaluation["items"],
        "training": info.get("training", {}),
        "best_epoch": info.get("best_epoch"),
        "epochs_trained": info.get("epochs_trained"),
        "final_valid_mrr": (info.get("final") or {}).get("valid_mrr"),
        "components": info.get("components"),
        "machine": machine(),
        "finished": now(),
    }
    write_json(result, folder / RESULT)
    return result


def table(results: Sequence[dict[str, Any]]) -> str:
    """One row per (tag, objective, max_time): MRR mean ± sd over seeds, ceiling, chance, steps."""
    rows: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in results:
        c = r["cell"]
        rows.setdefault((c["tag"], c["objective"], c["max_time"]), []).append(r)
    lines = [
        "| cell | budget | seeds | audio→sheet MRR | sheet→audio MRR | R@1 a→s | MedR a→s | ceiling | chance | steps |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def stat(values: list[float]) -> str:
        if len(values) == 1:
            return f"{values[0]:.3f}"
        return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"

    for (tag, objective, max_time), rs in sorted(rows.items()):
        rs = sorted(rs, key=lambda r: r["cell"]["seed"])
        a2s = [r["directions"]["audio->sheet"] for r in rs]
        s2a = [r["directions"]["sheet->audio"] for r in rs]
        seeds = ",".join(str(r["cell"]["seed"]) for r in rs)
        steps = "/".join(str(r["training"].get("steps", "?")) for r in rs)
        lines.append(
            f"| {tag} {objective} | {max_time} | {seeds} | {stat([d['MRR'] for d in a2s])} | "
            f"{stat([d['MRR'] for d in s2a])} | {stat([d['R@1'] for d in a2s])} | "
            f"{statistics.median(d['MedR'] for d in a2s):g} | {a2s[0].get('ceiling_MRR', float('nan')):.3f} | "
            f"{a2s[0]['chance_MRR']:.4f} | {steps} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objective", default="contrastive", help="objective of the cells (default contrastive)")
    ap.add_argument("--max-time", default="15m", help="training budget of each cell (default 15m)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default 0 1 2)")
    ap.add_argument("--tag", default="defaults", help="name of the variant (default: defaults)")
    ap.add_argument("-o", "--option", action="append", default=[], help="a component option, as in ugaar-kit train")
    ap.add_argument("--data", type=Path, default=None, help="dataset folder (default: the pinned 200-song build)")
    ap.add_argument("--table", action="store_true", help="print every result as a markdown table and exit")
    args = ap.parse_args(argv)
    if args.table:
        results = [r for p in sorted(BUDGET.glob(f"*/{RESULT}")) if (r := read_json(p)) is not None]
        print(table(results))
        return 0
    data = args.data
    if data is None:
        import quality

        data = quality.ensure_dataset(DATA / f"lmd-{SONGS}", SONGS, LMD, workers=2)
    for seed in args.seeds:
        with contextlib.suppress(KeyboardInterrupt):
            r = run_cell(data, args.tag, args.objective, args.max_time, seed, args.option)
            d = r["directions"]
            print(
                f"{cell_name(args.tag, args.objective, args.max_time, seed)}: audio->sheet {d['audio->sheet']['MRR']:.3f}, "
                f"sheet->audio {d['sheet->audio']['MRR']:.3f} (ceiling {d['audio->sheet'].get('ceiling_MRR', float('nan')):.3f}, "
                f"{r['training'].get('steps')} steps)"
            )
            continue
        print("interrupted: re-run the same command to resume")
        return 130
    print(f"\n{PYTHON} benchmarks/budget.py --table")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
