"""Regenerate the tables of docs/benchmarks.md from the benchmark result files.

    .venv/bin/python benchmarks/report.py           # rewrite the generated blocks of the page
    .venv/bin/python benchmarks/report.py --check   # exit 1 when the page is out of date

Each table sits between `<!-- BEGIN GENERATED name -->` and `<!-- END GENERATED name -->`;
everything outside the markers is prose and stays as written. The blocks come from
`benchmarks/results/quality/<cell>/result.json` (written by quality.py) and
`benchmarks/results/speed/<section>.json` (written by speed.py). A cell or section without a
result is shown as "not run yet" with the command that runs it.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import page_crops
import quality
import speed
from records import DOC, PYTHON, QUALITY, QUALITY_EPYC, QUALITY_RERUN, RESULTS, SPEED, machine_line, read_json

DIRECTIONS = ("audio->sheet", "sheet->audio", "audio->lyrics", "lyrics->audio", "sheet->lyrics", "lyrics->sheet")
LYRICS_DIRECTIONS = tuple(d for d in DIRECTIONS if "lyrics" in d)
NOT_RUN = "not run yet"
BEGIN = "<!-- BEGIN GENERATED {} -->"
END = "<!-- END GENERATED {} -->"
MARKER = re.compile(r"<!-- BEGIN GENERATED ([\w.-]+) -->\n.*?<!-- END GENERATED \1 -->", re.DOTALL)

MODEL_LABELS = {"cca": "cca (linear CCA/GCCA)", "dcca": "dcca", "contrastive": "contrastive", "ugaar": "ugaar"}
DEFAULT_LABELS = {
    "cca-as": "cca (linear CCA on raw features)",
    "dcca-as": "dcca",
    "dcca-as-rank": "dcca + ranking loss (`rank_weight=1`)",
    "contrastive-as": "contrastive",
}
"""Row labels of the audio-sheet cells at the defaults, by config without the budget."""
EVIDENCE_ROWS = (
    ("contrastive-as", "contrastive, audio–sheet only"),
    ("dcca-as", "dcca, audio–sheet only"),
    ("dcca-as-rank", "dcca + ranking loss (`rank_weight=1`), audio–sheet only"),
    ("contrastive-asl-doc2vec", "contrastive, three modalities"),
    ("dcca-asl-doc2vec", "dcca, three modalities"),
    ("ugaar-asl-doc2vec", "ugaar"),
    ("ugaar-asl-doc2vec-adv0", "ugaar, `adversarial_weight=0`"),
    ("ugaar-asl-doc2vec-transfer0", "ugaar, `transfer_weight=0`"),
    ("ugaar-asl-doc2vec-bend", "ugaar, `detach_targets=false`"),
)


def arrow(direction: str) -> str:
    return direction.replace("->", "→")


# -- numbers -------------------------------------------------------------------------------
def spread(values: Sequence[float], digits: int = 3) -> str:
    """`mean ± sd` over seeds (sample sd), just the mean for one value, `–` for none."""
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return "–"
    mean = statistics.fmean(vals)
    if len(vals) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(vals):.{digits}f}"


def load_results(root: Path = QUALITY) -> dict[str, dict[str, Any]]:
    """Every finished cell's result by cell name."""
    out = {}
    for path in sorted(Path(root).glob(f"*/{quality.RESULT}")):
        result = read_json(path)
        if result and result.get("format") == quality.FORMAT:
            out[result["cell"]["name"]] = result
    return out


def by_config(cells: Iterable[quality.Cell]) -> dict[str, list[quality.Cell]]:
    out: dict[str, list[quality.Cell]] = {}
    for c in cells:
        out.setdefault(c.config, []).append(c)
    return out


def figure(result: Mapping[str, Any], direction: str, key: str) -> float | None:
    value = result["figures"]["directions"].get(direction, {}).get(key)
    return None if value is None else float(value)


def steps_of(result: Mapping[str, Any]) -> int | str:
    """The training steps a cell's run took (`?` when its record has none)."""
    steps: int | str = result["train"].get("training", {}).get("steps", "?")
    return steps


def lyrics_mean(result: Mapping[str, Any], key: str) -> float | None:
    """A cell's figure averaged over its lyrics directions (None without lyrics)."""
    vals = [figure(result, d, key) for d in LYRICS_DIRECTIONS]
    vals = [v for v in vals if v is not None]
    return statistics.fmean(vals) if vals else None


# -- blocks --------------------------------------------------------------------------------
def table(header: Sequence[str], rows: Sequence[Sequence[str]], right_from: int = 1) -> str:
    """A markdown table; columns from `right_from` on are right-aligned."""
    align = ["---" if i < right_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def missing_commands(configs: Mapping[str, list[quality.Cell]], results: Mapping[str, Any]) -> list[str]:
    """`--only CONFIG` for every table row missing one of its seeds."""
    out = []
    for config, cells in configs.items():
        missing = [c for c in cells if c.name not in results]
        if missing:
            seeds = "" if len(missing) == len(cells) else " --seeds " + ",".join(str(c.seed) for c in missing)
            out.append(f"`{quality.command_for([config])}{seeds}`")
    return out


def not_run_note(commands: Sequence[str]) -> str:
    if not commands:
        return ""
    return "\n\nNot run yet (each command resumes where it stopped):\n\n" + "\n".join(f"- {c}" for c in commands)


def reference_rows(results: Mapping[str, Mapping[str, Any]], key: str) -> tuple[list[str], list[str]]:
    """The chance row and the syllable-count row for `key` (`MRR` or `MedR`) over DIRECTIONS."""
    any_result = next(iter(results.values()), None)
    chance, baseline = ["chance", "", ""], ["syllable count (no learning)", "", ""]
    if any_result is None:
        return chance + ["–"] * len(DIRECTIONS), baseline + ["–"] * len(DIRECTIONS)
    for d in DIRECTIONS:
        pools = [r["figures"]["directions"][d] for r in results.values() if d in r["figures"]["directions"]]
        if not pools:
            chance.append("–")
        elif key == "MRR":
            chance.append(f"{statistics.fmean(p['chance_MRR'] for p in pools):.4f}")
        else:
            chance.append(f"{statistics.fmean((p['pool'] + 1) / 2 for p in pools):.1f}")
        base = [r["figures"]["baselines"].get("syllable_count", {}).get(d, {}).get(key) for r in results.values()]
        base = [b for b in base if b is not None]
        baseline.append(f"{statistics.fmean(base):.{4 if key == 'MRR' else 1}f}" if base else "–")
    return chance, baseline


def seeds_done(done: int, total: int) -> str:
    return f"{done}/{total}" if done else f"0/{total}, {NOT_RUN}"


def main_table(
    results: Mapping[str, Mapping[str, Any]], cells: Sequence[quality.Cell], key: str, commands: bool = True
) -> str:
    """Rows: chance, the syllable-count baseline, then per lyrics encoder the random encoders and
    each objective; columns: the six directions, `mean ± sd` over seeds."""
    digits = 3 if key == "MRR" else 1
    configs = by_config(c for c in cells if c.groups() & {"main", "random"})
    ref = {k: v for k, v in results.items() if k in {c.name for cs in configs.values() for c in cs}}
    chance, baseline = reference_rows(ref, key)
    rows = [chance, baseline]
    for lyrics in quality.LYRICS_ENCODERS:
        for objective in ("random", *quality.OBJECTIVES):
            config = f"contrastive-asl-{lyrics}-random" if objective == "random" else f"{objective}-asl-{lyrics}"
            group = configs.get(config, [])
            done = [results[c.name] for c in group if c.name in results]
            label = "random encoders (0 epochs)" if objective == "random" else MODEL_LABELS[objective]
            row = [label, lyrics, seeds_done(len(done), len(group))]
            row += [spread([figure(r, d, key) for r in done], digits) for d in DIRECTIONS]
            rows.append(row)
    header = ["model", "lyrics encoder", "seeds", *(arrow(d) for d in DIRECTIONS)]
    note = not_run_note(missing_commands(configs, results)) if commands else ""
    return table(header, rows, right_from=2) + note


def evidence_table(results: Mapping[str, Mapping[str, Any]], cells: Sequence[quality.Cell]) -> str:
    """UGAAR against two- and three-modality baselines and its two ablations."""
    configs = by_config(c for c in cells if "evidence" in c.groups())
    rows = []
    for config, label in EVIDENCE_ROWS:
        group = configs.get(config, [])
        done = [results[c.name] for c in group if c.name in results]
        row = [label, seeds_done(len(done), len(group))]
        if not done:
            rows.append(row + ["–"] * 5)
            continue
        row += [spread([figure(r, d, "MRR") for r in done]) for d in ("audio->sheet", "sheet->audio")]
        row.append(spread([lyrics_mean(r, "MRR") for r in done], 4))
        row += [spread([figure(r, d, "MedR") for r in done], 1) for d in ("lyrics->audio", "lyrics->sheet")]
        rows.append(row)
    header = [
        "model",
        "seeds",
        "audio→sheet MRR",
        "sheet→audio MRR",
        "lyrics MRR (mean of 4)",
        "lyrics→audio MedR",
        "lyrics→sheet MedR",
    ]
    return table(header, rows, right_from=1) + not_run_note(missing_commands(configs, results))


def setup_block(results: Mapping[str, Mapping[str, Any]], cells: Sequence[quality.Cell]) -> str:
    """Dataset, budget, pools, machine and progress of the quality cells of the 0.1 budget."""
    cells = [c for c in cells if not c.budget]
    done = [results[c.name] for c in cells if c.name in results]
    lines = [f"Cells done: {len(done)} of {len(cells)} (`{PYTHON} benchmarks/quality.py --list` shows each)."]
    if not done:
        lines.append(f"Budget of every cell: {quality.BUDGET.describe()}.")
        lines.append(
            f"Evaluation: test split, pools of 1,000 candidates, 10 draws, pool seed 0. Run: `{PYTHON} benchmarks/quality.py`."
        )
        return "\n".join(f"- {x}" for x in lines)
    datasets = {(r["dataset"].get("manifest_sha256"), r["dataset"].get("folder")) for r in done}
    d = done[-1]["dataset"]
    test = d.get("splits", {}).get("test", {})
    train = d.get("splits", {}).get("train", {})
    valid = d.get("splits", {}).get("valid", {})
    lines.append(
        f"Dataset `{d.get('folder')}` (manifest {d.get('manifest_sha256')}): {d.get('songs')} songs of the LMD sample, "
        f"split by song: train {train.get('items'):,} passages / {train.get('songs')} songs, valid {valid.get('items'):,} / "
        f"{valid.get('songs')}, test {test.get('items'):,} / {test.get('songs')} ({test.get('candidates'):,} candidates once "
        "verbatim repeats are merged)."
    )
    if len(datasets) > 1:
        lines.append(f"**Warning**: the cells come from {len(datasets)} different datasets: {sorted(datasets)}.")
    # untrained cells run 0 epochs by design: only their other settings must match
    epochs = sorted({r["budget"]["epochs"] for r in done if r["cell"]["variant"] != "random"})
    others = sorted({json.dumps({k: v for k, v in r["budget"].items() if k != "epochs"}, sort_keys=True) for r in done})
    b = quality.Budget(**{**json.loads(others[0]), "epochs": epochs[0] if epochs else quality.BUDGET.epochs})
    lines.append(
        f"Budget of every cell: {b.describe()}; `cca` trains nothing: it fits PCA and CCA in closed form on the `flat` raw audio and sheet features and the lyrics encoder's untrained output, at default widths."
    )
    if len(others) > 1 or len(epochs) > 1:
        lines.append(f"**Warning**: the cells differ in budget: epochs {epochs}; {'; '.join(others)}.")
    enc = next((r.get("encoders", {}) for r in reversed(done) if r["cell"].get("objective") != "cca"), {})
    lines.append(
        "Encoders: "
        + ", ".join(f"{m} `{n}`" for m, n in enc.items())
        + ", lyrics as named per row, all at their default options but the width."
    )
    pools = {(r["evaluation"]["pool"], r["evaluation"]["draws"], r["evaluation"]["pool_seed"]) for r in done}
    pool, draws, seed = next(iter(pools))
    where = f"pools of {pool:,} candidates, {draws} draws, pool seed {seed}" if pool else "the whole test split"
    lines.append(f"Evaluation: the test split, {where} (the same pools for every cell); `±` is the sd over seeds.")
    minutes = [r["train"]["epoch_seconds"] / 60 for r in done if r["train"].get("epochs_trained")]
    if minutes:
        lines.append(
            f"Training time of a trained cell: median {statistics.median(minutes):.0f} min (its epochs with validation; "
            "no-training cells `cca` and `random` take minutes)."
        )
    dates = sorted(r["finished"][:10] for r in done)
    when = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
    lines.append(f"Measured {when} on {machine_line(done[-1]['machine'], date=False)}.")
    return "\n".join(f"- {x}" for x in lines)


def speed_block(section: str, root: Path = SPEED) -> str:
    """A speed section's table, the command and machine it was measured with, and its notes."""
    command = speed.command_for(section)
    result = read_json(Path(root) / f"{section}.json")
    if result is None:
        return f"{NOT_RUN}: `{command}`"
    out = [table(result["columns"], result["rows"], right_from=result.get("right_from", 1))]
    for note in result.get("notes", []):
        out.append(f"- {note}")
    out.append(f"- Measured on {machine_line(result['machine'])}: `{result.get('command', command)}`")
    return "\n\n".join(out[:1]) + ("\n\n" + "\n".join(out[1:]) if len(out) > 1 else "")


def cell(stat: Mapping[str, float] | None) -> str:
    """A figure over seeds as `mean (lowest–highest)` (`benchmarks/pieces.py`'s summaries)."""
    return "–" if stat is None else f"{stat['mean']:.3f} ({stat['min']:.2f}–{stat['max']:.2f})"


def count_cell(stat: Mapping[str, float] | None) -> str:
    """A count over seeds (steps) as `mean (lowest–highest)`, whole numbers."""
    return "–" if stat is None else f"{stat['mean']:.0f} ({stat['min']:.0f}–{stat['max']:.0f})"


PIECE_FIGURES = {
    "identify from a recording, top-1": ("identify", "recording", "top1"),
    "identify from a 10-s excerpt, top-1": ("identify", "excerpt", "top1"),
    "identify from a page, top-1": ("identify", "page", "top1"),
    "identify from a recording, top-5": ("identify", "recording", "top5"),
    "identify from a 10-s excerpt, top-5": ("identify", "excerpt", "top5"),
    "identify from a page, top-5": ("identify", "page", "top5"),
    "locate: the right passage": ("locate", "passage"),
    "locate: within one system": ("locate", "system"),
    "passage retrieval: valid audio→sheet MRR": ("training", "valid_MRR", "audio->sheet"),
    "passage retrieval: valid sheet→audio MRR": ("training", "valid_MRR", "sheet->audio"),
    "passage retrieval: test audio→sheet MRR": ("training", "test_MRR", "audio->sheet"),
    "passage retrieval: test sheet→audio MRR": ("training", "test_MRR", "sheet->audio"),
}
"""Where each figure of the pieces tables is in a result (a run's, or a summary over seeds)."""


def figures(*labels: str) -> list[tuple[str, tuple[str, ...]]]:
    """`(label, path)` of the named `PIECE_FIGURES`, in the order given."""
    return [(label, PIECE_FIGURES[label]) for label in labels]


DEFAULT_PIECES = "result-pwa-sr2.json"
"""The pieces result at the toolkit's defaults: a `--whole-songs` build trains on page windows
unless told not to (every 3 strip heights), each paired with the stretch of the recording its
notes sound in (timed by the passage boxes), in batches of runs of 2 items a song (`train`'s
default on a build with page windows; pieces.py trains items at random, `--song-run 0`, unless
told), and the evaluation's store holds every song's pages and recording (localisation reads a
song's pages anew in narrower windows); `result-pwa.json` is
the same build trained on items at random; `result-pwan-h1.5.json` the same build with windows
every 1.5, timed by their noteheads (measured no better);
pieces.py's own default, `result.json`, is the passages-only build it was measured on before,
`result-pw.json` page windows paired with their passage's recording, both with a store of
passages only."""


def pieces_block(root: Path = RESULTS / "pieces") -> str:
    """Piece identification and localisation at the defaults (benchmarks/pieces.py
    --train-page-windows): per kind of query top-1, top-5 and MRR as the mean over the seeds with
    their range, then localisation."""
    command = f"{PYTHON} benchmarks/pieces.py --train-page-windows --page-window-audio aligned --song-run 2"
    result = read_json(Path(root) / DEFAULT_PIECES)
    if result is None:
        return f"{NOT_RUN}: `{command}`"
    summary = result["summary"]

    rows = []
    for kind, row in summary["identify"].items():
        if row is None:
            rows.append([f"identify from {kind}", "–", "not in the run", "", ""])
        else:
            rows.append(
                [f"identify from {kind}", str(row["queries"]), cell(row["top1"]), cell(row["top5"]), cell(row["MRR"])]
            )
    loc = summary["locate"]
    rows.append(["locate: the right passage", str(loc["queries"]), cell(loc["passage"]), "", ""])
    rows.append(["locate: within one system", str(loc["queries"]), cell(loc["system"]), "", ""])
    rows.append(
        ["locate: a passage of the same notes", str(loc["queries"]), cell(loc["passage_or_same_music"]), "", ""]
    )
    first = result["runs"][0]
    out = [
        table(["task", "queries a seed", "top-1", "top-5", "MRR"], rows, right_from=1),
        f"- Seeds {', '.join(map(str, result['seeds']))}: the mean, and in brackets the lowest and highest "
        f"seed. {first['songs']} test songs among {first['pieces']} pieces (every song of the build in the "
        "store: its passages, its score pages cut into windows along their systems and its recording in windows); "
        f"{first['settings']['excerpts']} excerpts of {first['settings']['excerpt_seconds']:g} s a song "
        f"at seeded offsets; {piece_matching(first['settings'])}; an excerpt is located on its song's pages "
        "read anew in windows 4 and 3 strip heights wide every 1, the two readings' fits averaged, the excerpt's "
        "cuts weighted 0.8 against its fixed windows (the store's are 6 every 3).",
        f"- Model: the default contrastive audio–sheet pair trained for {result['budget']} a seed on {result['data']} "
        "(the default `--whole-songs` build: passages, and each training song's pages cut into page windows, "
        "each paired with the stretch of the recording its notes sound in), in batches of runs of 2 items a song "
        "(`--song-run 2`, the default on a build with page windows).",
        f"- Measured on {machine_line(result['machine'])}: `{result.get('command', command)}`",
    ]
    return "\n\n".join(out[:1]) + "\n\n" + "\n".join(out[1:])


def piece_matching(settings: dict[str, Any]) -> str:
    """How an evaluation turned hits into pieces, from its settings."""
    k = settings["k"]
    hub = ", their cosine corrected for hubness" if settings.get("hubness") else ""
    if settings.get("aggregate", "votes") == "auto":
        if "timeline" in settings.get("aggregates_used", []):
            return (
                f"hits are each vector's {k} nearest rows{hub}; a whole recording is identified by `sequence` "
                "(its windows aligned in order to the 10 pieces best by votes), an excerpt by `timeline` (its "
                "windows, and its cuts at the span of each page window, laid on the score's timing of each of those "
                "10 pieces: its stored page windows, or passages where a store has no pages), a page by `sequence` "
                "(its windows, in reading order, aligned with the best stretch of the recordings of the 10 pieces "
                "best by votes, plus a tenth of its share of the votes)"
            )
        return (
            f"hits are each vector's {k} nearest rows{hub}; a whole recording is identified by `sequence` (its "
            "windows aligned in order to the 10 pieces best by votes), excerpts and pages by `votes`"
        )
    return f"{settings['aggregate']} of each vector's {k} nearest rows{hub}"


WINDOW_VARIANTS = (
    ("result-sw1-fp32.json", "passages only"),
    ("result-tw5-sw1-fp32.json", "+ recording windows (`--train-windows 5`)"),
    ("result-tw5-pw-sw1-fp32.json", "+ page windows (`--train-page-windows`)"),
    ("result-pw-sw1-fp32.json", "page windows alone"),
)
"""Measured at the sheet's full width in float32 (`--sheet-width-scale 1 --no-amp`), the defaults
when they ran."""


def dig(value: Any, *path: str) -> Any:
    """`value[path[0]][path[1]]...`, or None where a key is missing."""
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def pieces_windows_block(root: Path = RESULTS / "pieces") -> str:
    """The same seeds trained on passages only, then with the query windows added to the
    training split (benchmarks/pieces.py --train-windows 5 [--train-page-windows]): each task's
    mean over the seeds (lowest–highest), the passage retrieval each keeps, the steps bought."""
    found = [(name, label, read_json(Path(root) / name)) for name, label in WINDOW_VARIANTS]
    found = [(name, label, r) for name, label, r in found if r is not None]
    if len(found) < 2:
        return f"{NOT_RUN}: `{PYTHON} benchmarks/pieces.py --sheet-width-scale 1 --no-amp --train-windows 5 [--train-page-windows]`"

    tasks = [(label, path) for label, path in PIECE_FIGURES.items() if "test_MRR" not in path]
    rows = [[label, *(cell(dig(r["summary"], *path)) for _, _, r in found)] for label, path in tasks]
    steps = [dig(r["summary"], "training", "steps") for _, _, r in found]
    rows.append(["steps in 15 minutes", *(count_cell(st) for st in steps)])
    items = [dig(r["summary"], "training", "train_items") for _, _, r in found]
    rows.append(["training items", *("–" if n is None else str(n) for n in items)])
    out = [
        table(["", *(label for _, label, _ in found)], rows, right_from=1),
        "- Paired: the same seeds (below), the same budget, the same test songs and excerpts; the mean over "
        "the seeds and in brackets the lowest and highest.",
    ]
    for _name, label, r in found:
        seeds = ", ".join(map(str, r["seeds"]))
        out.append(f"- {label}: seeds {seeds}, `{r.get('command')}`, on {machine_line(r['machine'])}")
    return "\n\n".join(out[:1]) + "\n\n" + "\n".join(out[1:])


SEED_PAIRS = {
    "pieces-budget": (
        ("result-sw1-fp32.json", "{budget}"),
        ("result-45m-sw1-fp32.json", "{budget}"),
        "only the training budget differs",
    ),
    "pieces-frontend": (
        ("result.json", "mel"),
        ("result-log84.json", "log frequency"),
        "only the audio front end differs",
    ),
    "pieces-clef": (
        ("result.json", "own clef"),
        ("result-sc.json", "song's clef"),
        "only the clef of the training, validation and test passages' images differs (the pages are the same)",
    ),
    "pieces-song-runs": (
        ("result-pw.json", "items at random (the default)"),
        ("result-pw-sr8.json", "runs of 8 a song (`--song-run 8`)"),
        "only the batches differ: runs of 8 training items of one song, no two of the same music",
    ),
    "pieces-song-runs-pages": (
        ("result-pwa-windows.json", "items at random (the default)"),
        ("result-pwa-sr8.json", "runs of 8 a song (`--song-run 8`)"),
        "only the batches differ (page windows with the stretch they sound, pages and recordings in the store)",
    ),
    "pieces-page-window-audio": (
        ("result-pw-pages.json", "the passage's recording"),
        ("result-pwa-windows.json", "the stretch it sounds"),
        "only the recording each training page window is paired with differs; both evaluated with every song's "
        "pages and recording in the store",
    ),
    "pieces-page-clock": (
        ("result-pwa-windows.json", "timed by the passage boxes (the default)"),
        ("result-pwan.json", "timed by the noteheads"),
        "only how each aligned training page window's edges are put in time differs (`--page-clock`), windows "
        "every 3 strip heights in both",
    ),
    "pieces-train-page-hop": (
        ("result-pwan.json", "every 3 strip heights (the default)"),
        ("result-pwan-h1.5.json", "every 1.5"),
        "only how many training page windows are cut differs (`--train-page-hop`), each timed by its noteheads",
    ),
    "pieces-train-page-hop-1": (
        ("result-pwan-h1.5.json", "every 1.5"),
        ("result-pwan-h1.json", "every 1"),
        "only how many training page windows are cut differs (`--train-page-hop`), each timed by its noteheads",
    ),
    "pieces-song-runs-4-cuts": (
        ("result-pwa-pagevotes.json", "items at random (the default)"),
        ("result-pwa-sr4.json", "runs of 4 a song (`--song-run 4`)"),
        "only the batches differ: runs of 4 training items of one song, no two of the same music; both read "
        "excerpts with their cuts at each page window's span",
    ),
}
"""One-seed ablations of a default run, each beside the same seed of the run it changes:
`(base result, its column), (ablation result, its column), what differs`; a column's `{budget}`
is its result's training budget."""


def pieces_seed_pair_block(name: str, root: Path = RESULTS / "pieces") -> str:
    """An ablation's seeds beside the same seeds of the run it changes (`SEED_PAIRS[name]`): each
    task's figure, the passage retrieval it keeps and the steps, seed by seed."""
    (base_file, base_label), (more_file, more_label), differs = SEED_PAIRS[name]
    base, more = read_json(Path(root) / base_file), read_json(Path(root) / more_file)
    if base is None or more is None:
        return f"{NOT_RUN}: `{PYTHON} benchmarks/pieces.py` (no {base_file if base is None else more_file})"
    runs = [next((r for r in base["runs"] if r["seed"] == s), None) for s in more["seeds"]]
    pairs = [(r, m) for r, m in zip(runs, more["runs"]) if r is not None]
    if not pairs:
        return f"{NOT_RUN}: `{more.get('command')}` (no seed of {base_file})"

    def fig(run: Mapping[str, Any], *path: str) -> str:
        value = dig(run, *path)
        return "–" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))

    tasks = figures(
        "identify from a recording, top-1",
        "identify from a 10-s excerpt, top-1",
        "identify from a page, top-1",
        "identify from a 10-s excerpt, top-5",
        "locate: the right passage",
        "locate: within one system",
        "passage retrieval: valid audio→sheet MRR",
    ) + [("steps", ("training", "steps"))]
    if all(dig(x, "training", "test_MRR") is not None for pair in pairs for x in pair):
        tasks[-1:-1] = figures("passage retrieval: test audio→sheet MRR")
    columns = [""]
    for r, m in pairs:
        columns += [
            f"seed {r['seed']}, {base_label.format(budget=base['budget'])}",
            f"seed {m['seed']}, {more_label.format(budget=more['budget'])}",
        ]
    rows = [[label, *(fig(x, *path) for r, m in pairs for x in (r, m))] for label, path in tasks]
    out = [
        table(columns, rows, right_from=1),
        f"- The same seed, songs and splits, test queries and matching; {differs}. "
        f"{base_label.format(budget=base['budget'])}: `{base.get('command')}`; "
        f"{more_label.format(budget=more['budget'])}: `{more.get('command')}`, on {machine_line(more['machine'])}",
    ]
    return "\n\n".join(out)


PAIRS = {
    "pieces-width": (
        ("result-sw1-fp32.json", "full width (`width_scale=1`)"),
        ("result-fp32.json", "half width (the default)"),
    ),
    "pieces-precision": (
        ("result-fp32.json", "float32 (`--no-amp`)"),
        ("result.json", "bfloat16 (the default)"),
    ),
    "pieces-page-windows": (
        ("result.json", "passages only (`--no-train-page-windows`)"),
        ("result-pw.json", "+ page windows (the default with `--whole-songs`)"),
    ),
    "pieces-song-runs-passages": (
        ("result.json", "items at random (the default)"),
        ("result-sr8.json", "runs of 8 a song (`--song-run 8`)"),
    ),
    "pieces-page-windows-denser": (
        ("result-pwa-windows.json", "page windows every 3, timed by the boxes (the defaults)"),
        ("result-pwan-h1.5.json", "every 1.5, timed by their noteheads"),
    ),
    "pieces-cuts": (
        ("result-pwa-windows.json", "fixed windows only"),
        ("result-pwa-pagevotes.json", "+ cut at each page window's span (the default)"),
        "only how an excerpt is read differs: its fixed 3.5-s windows alone, or with it cut at the span of each "
        "page window it would hold (`cut_fit`)",
    ),
    "pieces-song-runs-2": (
        ("result-pwa.json", "items at random (`--song-run 0`)"),
        ("result-pwa-sr2-store6.json", "runs of 2 a song (the default)"),
    ),
    "pieces-pages": (
        ("result-pwa-pagevotes.json", "a page by votes"),
        ("result-pwa.json", "a page aligned with the recordings (`sequence`)"),
        "only how a page is identified differs: by votes, its hits' cosines as they are; or the 10 pieces best "
        "by votes ranked by how well its windows, in reading order, follow the best stretch of each piece's "
        "recordings, plus a tenth of its share of the votes, its hits corrected for hubness",
    ),
    "pieces-locate-pages": (
        ("result-pwa-sr2-store6.json", "located in the stored page windows"),
        ("result-pwa-sr2-cut05.json", "in the pages read anew"),
        "only where an excerpt is located differs: in its song's stored page windows (6 strip heights wide "
        "every 3, as a page query is read and the model trained), or in its pages read anew in windows 4 wide "
        "every 1 (both with the cuts weighted equally with the fixed windows)",
    ),
    "pieces-locate-readings": (
        ("result-pwa-sr2-cut05.json", "pages read 4 wide, cuts weighted 0.5"),
        ("result-pwa-sr2.json", "4 and 3 wide, cuts 0.8 (the default)"),
        "only how an excerpt is located in its pages read anew differs: in windows 4 strip heights wide every 1, "
        "the excerpt's cuts and fixed windows weighted equally; or in two readings, windows 4 and 3 wide every 1, "
        "their fits averaged, the cuts weighted 0.8 (`LOCATE_WINDOWS`, `CUT_WEIGHT`)",
    ),
}
"""Tables of two variants of the default run, paired by seed: the sheet's width (both in float32,
as the runs of that time trained), then the CPU's precision (both at half width), then the
training items (at the defaults of both), then the batches (on the passages-only build), then
the training page windows of a whole-songs build, then how an excerpt is read (the same runs),
then the batches of a page-window build, then how a page is identified (the same runs), then the
page windows an excerpt is located in (the same runs), then how it is read in them (the same runs). A third entry says what differs where the runs are the same and
their evaluation is not. Results evaluated before `cut_fit` (2026-12-07 and earlier) read
excerpts by their fixed windows only: the defaults so are `result-pwa-windows.json` (its
`evaluation` says so), the base of every training ablation measured then; results evaluated
before pages were aligned with the recordings identified a page by votes:
`result-pwa-pagevotes.json`, the base of the ablations measured then; results evaluated before
`locate` read a song's pages anew in narrower windows located excerpts in the stored ones:
`result-pwa-sr2-store6.json` for the default runs, and every result measured before it; results
evaluated before `locate` read pages at two widths and weighed an excerpt's cuts 0.8 read them 4
wide with equal weights:
`result-pwa-sr2-cut05.json` for the default runs, and every result measured before it."""


def evaluated(result: Mapping[str, Any]) -> str:
    """` (EVALUATION)` when a result says how it was evaluated otherwise than its command does now."""
    return f" ({result['evaluation']})" if result.get("evaluation") else ""


def pieces_pair_block(name: str, root: Path = RESULTS / "pieces") -> str:
    """Two variants of the default run (`PAIRS[name]`), the same seeds, data, budget, queries
    and matching: the steps each buys, its passage retrieval and each identification and
    localisation figure, mean over the seeds (lowest–highest)."""
    (file_a, label_a), (file_b, label_b), *rest = PAIRS[name]
    same = f"the same test songs and excerpts; {rest[0]}" if rest else "the same test songs, excerpts and matching"
    a, b = read_json(Path(root) / file_a), read_json(Path(root) / file_b)
    if a is None or b is None:
        missing = file_a if a is None else file_b
        return f"{NOT_RUN}: `{PYTHON} benchmarks/pieces.py` (no {missing})"
    tasks = figures(
        "passage retrieval: valid audio→sheet MRR",
        "passage retrieval: test audio→sheet MRR",
        "passage retrieval: test sheet→audio MRR",
        "identify from a recording, top-1",
        "identify from a 10-s excerpt, top-1",
        "identify from a 10-s excerpt, top-5",
        "identify from a page, top-1",
        "identify from a page, top-5",
        "locate: the right passage",
        "locate: within one system",
    )
    rows = [["steps in the budget", *(count_cell(dig(r["summary"], "training", "steps")) for r in (a, b))]]
    rows += [[label, *(cell(dig(r["summary"], *path)) for r in (a, b))] for label, path in tasks]
    seeds = ", ".join(map(str, b["seeds"]))
    data = b["data"] if a["data"] == b["data"] else f"{a['data']} and {b['data']} (the same songs and splits)"
    out = [
        table(["", label_a, label_b], rows, right_from=1),
        f"- Paired: seeds {seeds}, {b['budget']} a seed on {data}, {same}; the mean over the seeds and in "
        "brackets the lowest and highest. Test passage retrieval: the whole test split as the pool (`ugaar-kit "
        "eval RUN --data DATA`).",
        *(
            f"- {label}: `{r.get('command')}`{evaluated(r)}, on {machine_line(r['machine'])}"
            for label, r in ((label_a, a), (label_b, b))
        ),
    ]
    return "\n\n".join(out[:1]) + "\n\n" + "\n".join(out[1:])


def page_crops_block(root: Path = RESULTS / "pieces") -> str:
    """Page identification with the windows cut four ways (benchmarks/page_crops.py)."""
    command = f"{PYTHON} benchmarks/page_crops.py"
    result = read_json(Path(root) / "page-crops.json")
    if result is None:
        return f"{NOT_RUN}: `{command}`"
    page = result["page"]
    rows = [
        [f"`{name}`: {page_crops.VARIANTS.get(name, name)}", f"{f['top1']:.3f}", f"{f['top5']:.3f}", f"{f['MRR']:.3f}"]
        for name, f in page.items()
    ]
    first = next(iter(page.values()))
    return "\n\n".join(
        [
            table(["windows", "top-1", "top-5", "MRR"], rows, right_from=1),
            f"- {first['queries']} pages of the {result['split']} songs among {first['pieces']} pieces; the run "
            f"`{Path(result['run']).name}` and its kept store; `{result.get('command')}`, on "
            f"{machine_line(result['machine'])}",
        ]
    )


def serve_block(root: Path = RESULTS / "serve") -> str:
    """`ugaar-kit serve` on the demo's store (benchmarks/serve.py): the API's and the page's times."""
    command = f"{PYTHON} benchmarks/serve.py"
    result = read_json(Path(root) / "result.json")
    if result is None:
        return f"{NOT_RUN}: `{command}`"
    rows = [
        [label, str(row["n"]), f"{row['median_ms']:.0f}", f"{row['max_ms']:.0f}"]
        for label, row in result["api"].items()
    ]
    page = result.get("page") or {}
    if "median_ms" in page:
        rows.append(
            [
                f"the page in Chromium: {page['query']}",
                str(page["n"]),
                f"{page['median_ms']:.0f}",
                f"{page['max_ms']:.0f}",
            ]
        )
    store = ", ".join(f"{n} {m}" for m, n in result["store"].items())
    out = [
        table(["request, after the model has loaded", "times", "median ms", "max ms"], rows, right_from=1),
        f"- The demo's store ({store} rows) and its UGAAR run, loaded in {result['load_seconds']:.1f} s; "
        "each request from a separate client over 127.0.0.1, one at a time, after one not counted.",
        f"- Measured on {machine_line(result['machine'])}: `{result.get('command', command)}`",
    ]
    if "skipped" in page:
        out.insert(2, f"- The page was not timed: {page['skipped']}.")
    return "\n\n".join(out[:1]) + "\n\n" + "\n".join(out[1:])


def defaults_label(cell: quality.Cell) -> str:
    base = quality.Cell(
        cell.objective,
        cell.modalities,
        cell.lyrics,
        "base" if cell.variant in quality.ABLATION_VARIANTS else cell.variant,
    )
    label = DEFAULT_LABELS.get(base.config, base.config)
    if cell.variant in quality.ABLATION_VARIANTS:
        label += f", {quality.VARIANTS[cell.variant].label}"
    return label


def defaults_block(results: Mapping[str, Mapping[str, Any]], cells: Sequence[quality.Cell]) -> str:
    """The audio-sheet cells under a wall-clock budget at the defaults: the headline rows over
    seeds, then the one-seed ablations and learning-curve points, beside chance and the ceiling."""
    configs = by_config(c for c in cells if c.groups() & {"defaults", "ablation"})
    done_all = [results[c.name] for cs in configs.values() for c in cs if c.name in results]

    def reference(key: str, digits: int) -> list[str]:
        """The mean of `key` over the done cells, per direction (every cell has the same pool)."""
        out = []
        for direction in ("audio->sheet", "sheet->audio"):
            vals = [figure(r, direction, key) for r in done_all]
            vals = [v for v in vals if v is not None]
            out.append(f"{statistics.fmean(vals):.{digits}f}" if vals else "–")
        return out

    rows = [
        ["chance", "", "", *reference("chance_MRR", 4), "", "", ""],
        ["ceiling (identical melodies tie)", "", "", *reference("ceiling_MRR", 3), "", "", ""],
    ]
    for group in configs.values():
        done = [results[c.name] for c in group if c.name in results]
        cell = group[0]
        row = [defaults_label(cell), cell.budget, seeds_done(len(done), len(group))]
        row += [spread([figure(r, d, "MRR") for r in done]) for d in ("audio->sheet", "sheet->audio")]
        row.append(spread([figure(r, "audio->sheet", "R@1") for r in done]))
        medr = [figure(r, "audio->sheet", "MedR") for r in done]
        row.append(f"{statistics.median(m for m in medr if m is not None):g}" if done else "–")
        row.append("/".join(str(steps_of(r)) for r in done) or "–")
        rows.append(row)
    header = ["model", "budget", "seeds", "audio→sheet MRR", "sheet→audio MRR", "R@1 a→s", "MedR a→s", "steps"]
    out = table(header, rows, right_from=2)
    if done_all:
        dates = sorted(r["finished"][:10] for r in done_all)
        when = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
        d = done_all[-1]["dataset"]
        test = d.get("splits", {}).get("test", {})
        pool = done_all[-1]["evaluation"]["pool"]
        where = f"pools of {pool:,}" if pool else f"the whole test split ({test.get('candidates', '?'):,} candidates)"
        out += (
            f"\n\n- Dataset `{d.get('folder')}` (manifest {d.get('manifest_sha256')}); evaluated on {where}; "
            f"`±` is the sd over seeds.\n- Measured {when} on {machine_line(done_all[-1]['machine'], date=False)}, "
            "one cell at a time."
        )
    return out + not_run_note(missing_commands(configs, results))


LYRICS_DIRECTIONS = ("lyrics->audio", "audio->lyrics", "lyrics->sheet", "sheet->lyrics")


LYRICS_GROUPS = ("lyrics", "lyrics-ablation")
UGAAR_GROUPS = ("ugaar-defaults",)
AS_HEADLINE = f"contrastive-as-{quality.HEADLINE}"
"""The audio-sheet row every three-modality table at the defaults is read against."""
UGAAR_HEADLINE = f"ugaar-asl-doc2vec-{quality.HEADLINE}"
"""The design card's UGAAR command at the defaults, paired seed by seed with `AS_HEADLINE`."""


def lyrics_block(
    results: Mapping[str, Mapping[str, Any]],
    cells: Sequence[quality.Cell],
    root: Path,
    groups: Sequence[str] = LYRICS_GROUPS,
    reference: tuple[Mapping[str, Mapping[str, Any]], Path] | None = None,
) -> str:
    """The three-modality cells under the headline budget (`groups`) beside an audio-sheet run
    (from `results`, or the (results, root) of `reference`), chance, both no-learning baselines
    and the ceiling."""
    configs = by_config(c for c in cells if c.groups() & set(groups))
    reference_results, reference_root = reference or (results, root)
    reference_configs = by_config(c for c in cells if c.config == AS_HEADLINE)
    done_all = [results[c.name] for cs in configs.values() for c in cs if c.name in results]
    if not done_all:
        return f"{NOT_RUN}: `{quality.command_for(list(groups))} --root {root.relative_to(quality.REPO)}`"

    def mean_of(values: Iterable[float | None], digits: int = 3) -> str:
        vals = [v for v in values if v is not None]
        return f"{statistics.fmean(vals):.{digits}f}" if vals else "–"

    def baseline(name: str, direction: str, key: str) -> float | None:
        rows = [r["figures"]["baselines"].get(name, {}).get(direction, {}).get(key) for r in done_all]
        vals = [float(v) for v in rows if v is not None]
        return statistics.fmean(vals) if vals else None

    def fmt(v: float | None, digits: int = 3) -> str:
        return "–" if v is None else (f"{v:g}" if digits == 0 else f"{v:.{digits}f}")

    header = ["model", "seeds", "a→s MRR", *(f"{arrow(d)} MRR" for d in LYRICS_DIRECTIONS), "MedR l→a", "steps"]
    rows = [
        [
            "chance",
            "",
            mean_of(figure(r, "audio->sheet", "chance_MRR") for r in done_all),
            *(mean_of(figure(r, d, "chance_MRR") for r in done_all) for d in LYRICS_DIRECTIONS),
            "",
            "",
        ],
        [
            "ceiling (identical content ties)",
            "",
            mean_of(figure(r, "audio->sheet", "ceiling_MRR") for r in done_all),
            *(mean_of(figure(r, d, "ceiling_MRR") for r in done_all) for d in LYRICS_DIRECTIONS),
            "",
            "",
        ],
    ]
    for name, label in (
        ("syllable_count", "syllable-count baseline (notes from the manifest)"),
        ("onset_count", "onset-count baseline (onsets counted in the audio)"),
    ):
        rows.append(
            [
                label,
                "",
                "",
                *(fmt(baseline(name, d, "MRR")) for d in LYRICS_DIRECTIONS),
                fmt(baseline(name, "lyrics->audio", "MedR"), 0),
                "",
            ]
        )
    for group, source in [
        *((g, reference_results) for g in reference_configs.values()),
        *((g, results) for g in configs.values()),
    ]:
        done = [source[c.name] for c in group if c.name in source]
        if not done:
            continue
        cell = group[0]
        label = (
            f"{cell.objective}, audio + sheet" if cell.lyrics is None else f"{cell.objective}, `{cell.lyrics}` lyrics"
        )
        if cell.variant != "base":
            label += f", {quality.VARIANTS[cell.variant].label}"
        row = [label, seeds_done(len(done), len(group)), spread([figure(r, "audio->sheet", "MRR") for r in done])]
        row += [spread([figure(r, d, "MRR") for r in done]) if cell.lyrics else "" for d in LYRICS_DIRECTIONS]
        medr = [figure(r, "lyrics->audio", "MedR") for r in done]
        row.append(f"{statistics.median(m for m in medr if m is not None):g}" if cell.lyrics else "")
        row.append("/".join(str(steps_of(r)) for r in done))
        rows.append(row)
    out = table(header, rows, right_from=1)
    dates = sorted(r["finished"][:10] for r in done_all)
    d = done_all[-1]["dataset"]
    test = d.get("splits", {}).get("test", {})
    out += (
        f"\n\n- Dataset `{d.get('folder')}` (manifest {d.get('manifest_sha256')}); the whole test split "
        f"({test.get('candidates', '?'):,} candidates); `±` is the sd over seeds; only rows with a result are shown.\n"
        f"- Measured {dates[0] if dates[0] == dates[-1] else f'{dates[0]} to {dates[-1]}'} on {machine_line(done_all[-1]['machine'], date=False)}, one cell at a time: "
        f"`{quality.command_for(list(groups))} --root {root.relative_to(quality.REPO)}` "
        f"(the audio-sheet row: `--only {AS_HEADLINE}` with "
        + ("the same root" if reference is None else f"`--root {reference_root.relative_to(quality.REPO)}`")
        + ")."
    )
    return out


def steps_label(result: Mapping[str, Any]) -> str:
    """A cell's training steps and, when it was budgeted, the measured seconds a step: `514 (1.67 s)`."""
    rate = result["train"].get("training", {}).get("schedule", {}).get("measured_step_seconds")
    return f"{steps_of(result)}" + ("" if rate is None else f" ({float(rate):.2f} s)")


def ugaar_block(
    results: Mapping[str, Mapping[str, Any]],
    cells: Sequence[quality.Cell],
    root: Path,
    reference: tuple[Mapping[str, Mapping[str, Any]], Path],
) -> str:
    """UGAAR at the defaults: every direction of its cells beside the audio-sheet contrastive
    run of the same session, then audio->sheet paired seed by seed with that run."""
    out = lyrics_block(results, cells, root, UGAAR_GROUPS, reference)
    if out.startswith(NOT_RUN):
        return out
    rerun, _ = reference
    rows, deltas = [], []
    for cell in (c for c in cells if c.config == UGAAR_HEADLINE):
        mine, theirs = results.get(cell.name), rerun.get(f"{AS_HEADLINE}-s{cell.seed}")
        if mine is None or theirs is None:
            continue
        a, b = figure(theirs, "audio->sheet", "MRR"), figure(mine, "audio->sheet", "MRR")
        if a is None or b is None:
            continue
        deltas.append(b - a)
        rows.append([str(cell.seed), f"{a:.3f}", steps_label(theirs), f"{b:.3f}", steps_label(mine), f"{b - a:+.3f}"])
    if not rows:
        return out
    rows.append(["mean", "", "", "", "", spread(deltas) if len(deltas) > 1 else f"{deltas[0]:+.3f}"])
    header = ["seed", "contrastive a→s", "steps (s a step)", "ugaar a→s", "steps (s a step)", "ugaar − contrastive"]
    return out + "\n\nPaired by seed, audio→sheet MRR:\n\n" + table(header, rows, right_from=1)


def blocks(
    quality_root: Path = QUALITY,
    speed_root: Path = SPEED,
    lyrics_root: Path = QUALITY_EPYC,
    rerun_root: Path = QUALITY_RERUN,
    pieces_root: Path = RESULTS / "pieces",
    serve_root: Path = RESULTS / "serve",
) -> dict[str, str]:
    """Every generated block by marker name."""
    cells = quality.grid()
    results = load_results(quality_root)
    out = {
        "quality-lyrics": lyrics_block(results, cells, quality_root),
        "quality-lyrics-epyc": lyrics_block(load_results(lyrics_root), cells, lyrics_root),
        "quality-ugaar": ugaar_block(results, cells, quality_root, (load_results(rerun_root), rerun_root)),
        "quality-defaults": defaults_block(results, cells),
        "quality-setup": setup_block(results, cells),
        "quality-mrr": main_table(results, cells, "MRR"),
        "quality-medr": main_table(results, cells, "MedR", commands=False),
        "quality-evidence": evidence_table(results, cells),
    }
    for section in speed.SECTIONS:
        out[f"speed-{section}"] = speed_block(section, speed_root)
    out["pieces"] = pieces_block(pieces_root)
    out["pieces-windows"] = pieces_windows_block(pieces_root)
    for name in SEED_PAIRS:
        out[name] = pieces_seed_pair_block(name, pieces_root)
    for name in PAIRS:
        out[name] = pieces_pair_block(name, pieces_root)
    out["pieces-page-crops"] = page_crops_block(pieces_root)
    out["serve"] = serve_block(serve_root)
    return out


def fill(text: str, generated: Mapping[str, str]) -> str:
    """`text` with every marked block replaced; a block name without markers is an error."""
    present = set(MARKER.findall(text))
    absent = sorted(set(generated) - present)
    if absent:
        raise SystemExit(
            f"markers missing in the page for: {', '.join(absent)} (add {BEGIN.format(absent[0])} ... {END.format(absent[0])})"
        )

    def replace(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in generated:
            return m.group(0)
        return f"{BEGIN.format(name)}\n{generated[name]}\n{END.format(name)}"

    return MARKER.sub(replace, text)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--doc", type=Path, default=DOC, help="the page to update (default docs/benchmarks.md)")
    ap.add_argument("--check", action="store_true", help="only tell whether the page is up to date")
    args = ap.parse_args(argv)
    text = args.doc.read_text(encoding="utf-8")
    new = fill(text, blocks())
    if args.check:
        if new != text:
            print(f"{args.doc} is out of date: run {PYTHON} benchmarks/report.py")
            return 1
        print(f"{args.doc} is up to date")
        return 0
    if new != text:
        tmp = args.doc.with_name(f".{args.doc.name}.tmp")
        tmp.write_text(new, encoding="utf-8")
        tmp.replace(args.doc)
        print(f"updated {args.doc}")
    else:
        print(f"{args.doc} already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
