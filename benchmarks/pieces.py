"""Piece identification and localisation at the defaults (issue 21), over paired seeds.

    .venv/bin/python benchmarks/pieces.py                 # build, train 3 seeds, evaluate
    .venv/bin/python benchmarks/pieces.py --seeds 0       # one seed
    .venv/bin/python benchmarks/pieces.py ... --relocate  # localisation again, identification kept
    .venv/bin/python benchmarks/pieces.py --train-windows 5   # trained on the query windows too
    .venv/bin/python benchmarks/pieces.py --train-page-windows --page-window-audio aligned  # the defaults

Builds the first 200 songs of the shared LMD sample with `--whole-songs` (once), trains the
default contrastive audio–sheet model on it under a 15-minute budget per seed (a run folder
that already holds `model.pt` is kept), and evaluates each run with `ugaar-kit eval --task
identify --task locate` (the dataset's embeddings kept per run, so a rerun only queries).
Writes `benchmarks/results/pieces/result.json`, which `report.py` turns into the table of
docs/benchmarks.md: per kind of query top-1, top-5 and MRR, mean and spread over the seeds.

`--train-windows 5` builds the same songs with `--train-windows 5` (each training song's
recording also cut into the 5-s windows a query is cut into, each a training item with the
passage at its midpoint) into `lmd-200w-tw5`, trains the same seeds on it into
`runs/contrastive-tw5-sN` and writes `result-tw5.json`: the same test songs and evaluation.
`--train-page-windows` adds the windows a page is read with (`-pw` in those names), each
with its passage's recording unless `--page-window-audio aligned` pairs it with the stretch of
the recording its notes sound in (`-pwa`), its edges timed by the passages' boxes unless
`--page-clock notes` times them by the system's noteheads (`-pwan`). Page windows and aligned
audio (timed by the boxes) are the build's defaults for whole songs, yet this script builds
without unless asked (it passes `--no-train-page-windows` or `--page-window-audio passage`
explicitly), so its names and recorded commands keep their meaning: `result.json` is the passages-only
build, `result-pw.json` page windows with their passage's recording, `result-pwa.json` aligned
by the boxes, `result-pwan.json` by the noteheads; `--train-page-hop 1.5` cuts training page
windows every 1.5 strip heights instead of 3 (`-h1.5`). The evaluation's store
holds every song's passages, score pages and recording since 2026-12-07; results written
before hold passages only. `--result NAME` names the result file otherwise.
`--budget 45m` trains for that long instead (runs `contrastive-45m-sN`, `result-45m.json`):
what more training buys. `--sheet-width-scale 1` trains the sheet `cnn` at that `width_scale`
instead of its default (`-sw1` in the names; 1 is the full width, the default until
2026-12-07), and `--no-amp` in float32 where the CPU would train in bfloat16 (`-fp32`).
`-o SLOT.KEY=VALUE --tag NAME` trains with more `train` options (runs and result named
with NAME, e.g. `--seeds 0 -o audio.scale=log -o audio.n_mels=84 -o audio.f_min=65.4 --tag
log84`: the log-frequency front end). `--clef song` builds the songs with each passage in its
song's clef, as the song's pages show it (`-sc` in the data's, the runs' and the result's
names; by default each passage is in the clef that fits its own range). `--song-run 8` trains
with `train --song-run 8` (batches of runs of 8 items a song; `-sr8` in the runs' and the
result's names); without it the runs train with `--song-run 0` (items at random), so `train`'s
own default (runs of 2 on a build with page windows) is `--song-run 2` here.
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


def ensure_data(
    data: Path,
    train_windows: float = 0.0,
    page_windows: bool = False,
    clef: str = "passage",
    page_audio: str = "passage",
    page_clock: str = "boxes",
    page_hop: float = 3.0,
    page_widths: tuple[float, ...] = (6.0,),
) -> Path:
    info = data / "dataset.json"
    if (data / "songs.jsonl").is_file() and info.is_file():
        record = json.loads(info.read_text(encoding="utf-8"))
        built = record.get("build_options", {})
        same = float(built.get("train_windows", 0.0)) == train_windows and built.get("clef", "passage") == clef
        same = same and built.get("page_window_audio", "passage") == page_audio
        same = same and (page_audio != "aligned" or built.get("page_clock", "boxes") == page_clock)
        same = same and float(built.get("train_page_hop", 3.0)) == page_hop
        same = same and tuple(map(float, built.get("train_page_widths", (6.0,)))) == page_widths
        if same and bool(built.get("train_page_windows", False)) == page_windows and record.get("complete"):
            return data
    print(f"building {SONGS} songs with --whole-songs into {data}", flush=True)
    source = LMD / "Sentence_Parsing"
    _run(
        ["dataset", "build", str(source), "--format", "lmd-lyrics", "--out", str(data)]
        + ["--limit-songs", str(SONGS), "--whole-songs", "--quiet"]
        + (["--train-windows", f"{train_windows:g}"] if train_windows else [])
        + (["--train-page-windows"] if page_windows else ["--no-train-page-windows"])
        + (["--clef", clef] if clef != "passage" else [])
        + (["--page-window-audio", page_audio] if page_windows else [])
        + (["--page-clock", page_clock] if page_windows and page_audio == "aligned" else [])
        + (["--train-page-hop", f"{page_hop:g}"] if page_windows else [])
        + [a for width in page_widths if page_windows for a in ("--train-page-width", f"{width:g}")]
    )
    return data


def ensure_run(data: Path, run: Path, seed: int, budget: str = BUDGET, extra: tuple[str, ...] = ()) -> Path:
    """Train `run` unless it holds `model.pt`; `extra` are more `train` arguments (`-o`, `--no-amp`)."""
    if (run / "model.pt").is_file():
        return run
    print(f"training seed {seed} into {run} ({budget})", flush=True)
    args = ["train", "--data", str(data), "--audio", "cnn", "--sheet", "cnn", "--objective", "contrastive", *extra]
    _run([*args, "--max-time", budget, "--seed", str(seed), "--out", str(run)], log=run.with_suffix(".log"))
    return run


def _kept_eval(run: Path, kind: str, args: list[str]) -> dict[str, Any]:
    """`ugaar-kit eval RUN ARGS --json`, kept beside the run (`<run>-KIND.json`) and reused while
    it is newer than the run's model."""
    kept = run.parent / f"{run.name}-{kind}.json"
    if not (kept.is_file() and kept.stat().st_mtime > (run / "model.pt").stat().st_mtime):
        print(f"evaluating {run} ({kind})", flush=True)
        kept.write_text(_run(["eval", str(run), *args, "--json"]), encoding="utf-8")
    return json.loads(kept.read_text(encoding="utf-8"))


def evaluate(data: Path, run: Path, relocate: bool = False) -> dict[str, Any]:
    """The run's `eval --task identify --task locate` (its store kept as `<run>-pieces.h5`).
    `relocate`: a kept evaluation's localisation run again (`eval --task locate` alone), its
    identification kept: after a change to `locate` alone; the evaluation records when
    (`relocated`)."""
    store = run.parent / f"{run.name}-pieces.h5"
    kept = run.parent / f"{run.name}-pieces.json"
    if relocate and kept.is_file():
        print(f"evaluating {run} (locate)", flush=True)
        located = json.loads(
            _run(["eval", str(run), "--data", str(data), "--task", "locate", "--store", str(store), "--json"])
        )
        figures = json.loads(kept.read_text(encoding="utf-8")) | {"locate": located["locate"], "relocated": now()}
        kept.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return _kept_eval(
        run, "pieces", ["--data", str(data), "--task", "identify", "--task", "locate", "--store", str(store)]
    )


def passages(data: Path, run: Path) -> dict[str, float]:
    """The run's passage retrieval on the test split (the whole split as the pool): MRR per direction."""
    figures = _kept_eval(run, "passages", ["--data", str(data)])
    return {d: figures["directions"][d]["MRR"] for d in ("audio->sheet", "sheet->audio")}


def training_facts(run: Path) -> dict[str, Any]:
    """What the run's budget bought and its passage retrieval: steps, epochs, the valid split's
    audio->sheet and sheet->audio MRR of the final model (run.json)."""
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    final = info.get("final", {}).get("valid", {})
    return {
        "steps": info.get("training", {}).get("steps"),
        "epochs": info.get("epochs_trained"),
        "train_items": info.get("items", {}).get("train") if isinstance(info.get("items"), dict) else None,
        "valid_MRR": {d: final[d]["MRR"] for d in ("audio->sheet", "sheet->audio") if d in final},
    }


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
    facts = [r["training"] for r in results if r.get("training")]
    if len(facts) == len(results):
        out["training"] = {
            "steps": stat([float(f["steps"]) for f in facts]),
            "valid_MRR": {d: stat([f["valid_MRR"][d] for f in facts]) for d in facts[0]["valid_MRR"]},
            "test_MRR": {d: stat([f["test_MRR"][d] for f in facts]) for d in facts[0]["test_MRR"]},
            "train_items": facts[0]["train_items"],
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--data", type=Path, default=DATA / f"lmd-{SONGS}w", help="the --whole-songs dataset folder")
    ap.add_argument("--runs", type=Path, default=OUT / "runs", help="where the run folders are (contrastive-sN)")
    ap.add_argument(
        "--train-windows", type=float, default=0.0, help="build with --train-windows SECONDS (its own data and runs)"
    )
    ap.add_argument("--train-page-windows", action="store_true", help="build with --train-page-windows too")
    ap.add_argument(
        "--page-window-audio",
        choices=("passage", "aligned"),
        default="passage",
        help="dataset build --page-window-audio (aligned: each page window with the stretch of the recording its "
        "notes sound in; needs --train-page-windows; its own data and runs: pwa)",
    )
    ap.add_argument(
        "--page-clock",
        choices=("boxes", "notes"),
        default="boxes",
        help="dataset build --page-clock with --page-window-audio aligned (notes: each window's edges timed by its "
        "system's noteheads; its own data and runs: pwan)",
    )
    ap.add_argument(
        "--train-page-hop",
        type=float,
        default=3.0,
        help="dataset build --train-page-hop: strip heights between training page windows (another than 3 "
        "names its own data and runs: -hX)",
    )
    ap.add_argument(
        "--train-page-width",
        type=float,
        action="append",
        default=None,
        help="dataset build --train-page-width (repeatable): widths of the training page windows in strip heights "
        "(default 6 alone; others name their own data and runs: -w6+4)",
    )
    ap.add_argument(
        "--budget", default=BUDGET, help=f"training budget a seed (default {BUDGET}; another names its own runs)"
    )
    ap.add_argument(
        "--sheet-width-scale",
        type=float,
        default=None,
        help="train the sheet cnn at this width_scale instead of its default (its own runs: -swX)",
    )
    ap.add_argument("--no-amp", action="store_true", help="train in float32 (train --no-amp; its own runs: -fp32)")
    ap.add_argument(
        "--song-run",
        type=int,
        default=0,
        help="train --song-run N: batches of runs of N items a song (-srN); default 0, items at random",
    )
    ap.add_argument(
        "--clef",
        choices=("passage", "song"),
        default="passage",
        help="dataset build --clef (song: each passage in its song's clef; its own data and runs: -sc)",
    )
    ap.add_argument(
        "-o",
        "--option",
        action="append",
        default=[],
        metavar="SLOT.KEY=VALUE",
        help="another train -o option (repeatable; needs --tag, which names its runs and result)",
    )
    ap.add_argument(
        "--relocate",
        action="store_true",
        help="run each kept evaluation's localisation again, its identification kept (after a change to locate alone)",
    )
    ap.add_argument("--tag", default="", help="the name of the runs and result with --option, e.g. log84")
    ap.add_argument(
        "--result",
        default="",
        help="the result file's name in benchmarks/results/pieces (default: from the options, e.g. result-pwa.json)",
    )
    args = ap.parse_args()
    if args.page_window_audio != "passage" and not args.train_page_windows:
        ap.error("--page-window-audio pairs page windows: add --train-page-windows")
    if args.train_page_hop != 3.0 and not args.train_page_windows:
        ap.error("--train-page-hop cuts page windows: add --train-page-windows")
    widths = tuple(args.train_page_width or (6.0,))
    if widths != (6.0,) and not args.train_page_windows:
        ap.error("--train-page-width cuts page windows: add --train-page-windows")
    if args.page_clock != "boxes" and args.page_window_audio != "aligned":
        ap.error("--page-clock times aligned page windows: add --page-window-audio aligned")
    if bool(args.option) != bool(args.tag):
        ap.error("--option and --tag go together: the tag names the runs the options train")
    width = () if args.sheet_width_scale is None else (f"sheet.width_scale={args.sheet_width_scale:g}",)
    options = (*args.option, *width)
    flags = (("--no-amp",) if args.no_amp else ()) + ("--song-run", str(args.song_run))
    data_tag = "-".join(
        ([f"tw{args.train_windows:g}"] if args.train_windows else [])
        + (
            ["pw" + ("a" if args.page_window_audio == "aligned" else "") + ("n" if args.page_clock == "notes" else "")]
            if args.train_page_windows
            else []
        )
        + ([f"h{args.train_page_hop:g}"] if args.train_page_hop != 3.0 else [])
        + (["w" + "+".join(f"{w:g}" for w in widths)] if widths != (6.0,) else [])
        + (["sc"] if args.clef == "song" else [])
    )
    tag = "-".join(
        ([args.budget] if args.budget != BUDGET else [])
        + ([data_tag] if data_tag else [])
        + ([args.tag] if args.tag else [])
        + ([f"sw{args.sheet_width_scale:g}"] if args.sheet_width_scale is not None else [])
        + ([f"sr{args.song_run}"] if args.song_run else [])
        + (["fp32"] if args.no_amp else [])
    )
    data = args.data.with_name(f"{args.data.name}-{data_tag}") if data_tag else args.data
    data = ensure_data(
        data,
        args.train_windows,
        args.train_page_windows,
        args.clef,
        args.page_window_audio,
        args.page_clock,
        args.train_page_hop,
        widths,
    )
    results = []
    for seed in args.seeds:
        name = f"contrastive-{tag}-s{seed}" if tag else f"contrastive-s{seed}"
        extra = (*(a for option in options for a in ("-o", option)), *flags)
        run = ensure_run(data, args.runs / name, seed, args.budget, extra)
        facts = {**training_facts(run), "test_MRR": passages(data, run)}
        results.append({"seed": seed, "run": _shown(run), **evaluate(data, run, args.relocate), "training": facts})
    payload = {
        "format": "ugaar-kit-benchmark-pieces",
        "command": f"{PYTHON} benchmarks/pieces.py"
        + ("" if args.seeds == [0, 1, 2] else f" --seeds {' '.join(map(str, args.seeds))}")
        + (f" --train-windows {args.train_windows:g}" if args.train_windows else "")
        + (" --train-page-windows" if args.train_page_windows else "")
        + (f" --page-window-audio {args.page_window_audio}" if args.page_window_audio != "passage" else "")
        + (f" --page-clock {args.page_clock}" if args.page_clock != "boxes" else "")
        + (f" --train-page-hop {args.train_page_hop:g}" if args.train_page_hop != 3.0 else "")
        + "".join(f" --train-page-width {w:g}" for w in widths if widths != (6.0,))
        + (f" --budget {args.budget}" if args.budget != BUDGET else "")
        + "".join(f" -o {o}" for o in args.option)
        + (f" --tag {args.tag}" if args.tag else "")
        + (f" --sheet-width-scale {args.sheet_width_scale:g}" if args.sheet_width_scale is not None else "")
        + (" --no-amp" if args.no_amp else "")
        + (f" --song-run {args.song_run}" if args.song_run else "")
        + (" --clef song" if args.clef == "song" else "")
        + (f" --result {args.result}" if args.result else ""),
        "train_windows": args.train_windows,
        "clef": args.clef,
        "train_page_windows": args.train_page_windows,
        "page_window_audio": args.page_window_audio,
        "page_clock": args.page_clock,
        "train_page_hop": args.train_page_hop,
        "train_page_widths": list(widths),
        "machine": machine(),
        "finished": now(),
        "data": _shown(data),
        "budget": args.budget,
        "options": list(options),
        "flags": list(flags),
        "seeds": args.seeds,
        "summary": summary(results),
        "runs": results,
    }
    write_json(payload, OUT / (args.result or (f"result-{tag}.json" if tag else "result.json")))
    print(json.dumps(payload["summary"], indent=1))


if __name__ == "__main__":
    main()
