"""Piece identification and localisation at the defaults (issue 21), over paired seeds.

    .venv/bin/python benchmarks/pieces.py                 # build, train 3 seeds, evaluate
    .venv/bin/python benchmarks/pieces.py --seeds 0       # one seed

Builds the first 200 songs of the shared LMD sample with `--whole-songs` (once), trains the
default contrastive audio–sheet model on it under a 15-minute budget per seed (a run folder
that already holds `model.pt` is kept), and evaluates each run with `ugaar-kit eval --task
identify --task locate` (the dataset's embeddings kept per run, so a rerun only queries).
Writes `benchmarks/results/pieces/result.json`, which `report.py` turns into the table of
docs/benchmarks.md: per kind of query top-1, top-5 and MRR, mean and spread over the seeds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from records import DATA, LMD, PYTHON, REPO, RESULTS, machine, now, write_json

OUT = RESULTS / "pieces"
SONGS = 200
BUDGET = "15m"
KINDS = ("recording", "excerpt", "page", "lyrics")


def _run(args: list[str], log: Path | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "ugaar_kit", *args], capture_output=True, text=True)
    if log is not None:
        log.write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0:
        raise SystemExit(f"ugaar-kit {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _shown(path: Path) -> str:
    """`path` relative to the repository when it is inside it (the result file is committed)."""
    try:
        return Path(path).resolve().relative_to(REPO).as_posix()
    except ValueError:
        return str(path)


def ensure_data(data: Path) -> Path:
    if (data / "songs.jsonl").is_file() and (data / "dataset.json").is_file():
        return data
    print(f"building {SONGS} songs with --whole-songs into {data}", flush=True)
    source = LMD / "Sentence_Parsing"
    _run(
        ["dataset", "build", str(source), "--format", "lmd-lyrics", "--out", str(data)]
        + ["--limit-songs", str(SONGS), "--whole-songs", "--quiet"]
    )
    return data


def ensure_run(data: Path, run: Path, seed: int) -> Path:
    if (run / "model.pt").is_file():
        return run
    print(f"training seed {seed} into {run} ({BUDGET})", flush=True)
    args = ["train", "--data", str(data), "--audio", "cnn", "--sheet", "cnn", "--objective", "contrastive"]
    _run([*args, "--max-time", BUDGET, "--seed", str(seed), "--out", str(run)], log=run.with_suffix(".log"))
    return run


def evaluate(data: Path, run: Path) -> dict[str, Any]:
    print(f"evaluating {run}", flush=True)
    store = run.parent / f"{run.name}-pieces.h5"
    out = _run(
        ["eval", str(run), "--data", str(data), "--task", "identify", "--task", "locate"]
        + ["--store", str(store), "--json"]
    )
    return json.loads(out)


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and population spread (max - min) of each figure over the seeds."""

    def stat(values: list[float]) -> dict[str, float]:
        return {"mean": statistics.fmean(values), "min": min(values), "max": max(values)}

    out: dict[str, Any] = {"identify": {}, "locate": {}}
    for kind in KINDS:
        rows = [r["identify"][kind] for r in results if r["identify"].get(kind)]
        if rows:
            out["identify"][kind] = {k: stat([row[k] for row in rows]) for k in ("top1", "top5", "MRR")}
            out["identify"][kind]["queries"] = rows[0]["queries"]
        else:
            out["identify"][kind] = None
    for k in ("passage", "system", "passage_or_same_music"):
        out["locate"][k] = stat([r["locate"][k] for r in results])
    out["locate"]["queries"] = results[0]["locate"]["queries"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--data", type=Path, default=DATA / f"lmd-{SONGS}w", help="the --whole-songs dataset folder")
    ap.add_argument("--runs", type=Path, default=OUT / "runs", help="where the run folders are (contrastive-sN)")
    args = ap.parse_args()
    data = ensure_data(args.data)
    results = []
    for seed in args.seeds:
        run = ensure_run(data, args.runs / f"contrastive-s{seed}", seed)
        results.append({"seed": seed, "run": _shown(run), **evaluate(data, run)})
    payload = {
        "format": "ugaar-kit-benchmark-pieces",
        "command": f"{PYTHON} benchmarks/pieces.py"
        + ("" if args.seeds == [0, 1, 2] else f" --seeds {' '.join(map(str, args.seeds))}"),
        "machine": machine(),
        "finished": now(),
        "data": _shown(data),
        "budget": BUDGET,
        "seeds": args.seeds,
        "summary": summary(results),
        "runs": results,
    }
    write_json(payload, OUT / "result.json")
    print(json.dumps(payload["summary"], indent=1))


if __name__ == "__main__":
    main()
