"""Test retrieval of every objective and lyrics encoder on LMD passages, cell by cell, resumable.

    .venv/bin/python benchmarks/quality.py --list                 # every cell and its state
    .venv/bin/python benchmarks/quality.py --only defaults        # the audio-sheet rows at the defaults
    .venv/bin/python benchmarks/quality.py --only ugaar --seeds 0 # some cells
    .venv/bin/python benchmarks/report.py                         # tables into docs/benchmarks.md

A cell is one training run and its evaluation: objective x modalities x lyrics encoder x
variant x budget x seed (`dcca-as-rank-15m-s1`, `ugaar-asl-doc2vec-adv0-s1`). Its run folder and
its `result.json` live in `benchmarks/results/quality/<cell>/`. A cell with a `result.json` is
never recomputed; a cell whose run was interrupted resumes it (`train --resume`); a trained cell
without a result is only evaluated. Cells are evaluated on the test split with pools of 1,000
candidates (10 draws, pool seed 0, so every cell sees the same pools), or the whole split when
it has fewer candidates.

Two kinds of budget:
- a wall-clock budget (`15m`, and `5m`/`45m` for the learning curve): the cell is what a user
  runs, `ugaar-kit train --max-time 15m` at every default (encoders, batch, schedule,
  augmentation), on the pinned 200-song build, with all the machine's cores. Run these one at a
  time on a quiet machine: a loaded machine trains fewer steps.
- the 0.1 budget (cells named without a budget): 10 epochs of shrunken `cnn` encoders on a
  300-song build, one thread a cell (`BUDGET`). The three-modality and UGAAR rows are still
  measured this way until they are re-run at the defaults.

The datasets are built from the shared LMD sample on first use (`--songs`, split by song) into
`benchmarks/results/data/lmd-<songs>/`; their feature caches are shared by every cell. One
process at a time per shard (a lock file); `--shard K/N` splits the selected cells among N
processes (start the second once the first has filled the feature caches; never for cells
under a wall-clock budget).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fnmatch
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from records import DATA, LMD, PYTHON, QUALITY, REPO, cpu_times, machine, now, read_json, steal_percent, write_json

FORMAT = "ugaar-kit-benchmark-quality"
FORMAT_VERSION = 1
RESULT = "result.json"
ERROR = "error.txt"
LOG = "train.log"
RUN = "run"

OBJECTIVES = ("cca", "dcca", "contrastive", "ugaar")
FIXED_FEATURES = {"audio": "flat", "sheet": "flat"}
"""`cca` fits linear CCA on fixed features: the raw log-mel and ink of the `flat` encoders."""
LYRICS_ENCODERS = ("doc2vec", "transformer")
ASL = ("audio", "sheet", "lyrics")
AS = ("audio", "sheet")
SEEDS = (0, 1, 2)
ABLATION_SEED = 0
"""Ablations and the learning curve run one seed."""
MODALITY_TAGS = {"audio": "a", "sheet": "s", "lyrics": "l"}


@dataclass(frozen=True)
class Budget:
    """The 0.1 budget: what every cell named without a budget gets, so the cells compare methods
    and not effort (shrunken encoders, a fixed number of epochs, one thread)."""

    epochs: int = 10
    """With the small CNNs below, about 1 min an epoch of 7k passages on one core (2-modality
    contrastive; 3-modality objectives cost more). Contrastive on 200 songs was still improving
    at epoch 10."""
    batch_size: int = 64
    """The sheet CNN's activations at batch 64 peak near 10 GB on the widest batch; 128 would not fit
    beside other work on this 23-GB machine."""
    lr: float = 1e-3
    patience: int = 0
    """0: no early stopping; the epoch with the best validation MRR is still the one kept."""
    dim: int = 16
    """Every encoder's output width (its `dim` option, when it has one). Deep CCA (and UGAAR's
    ground truth) estimates covariances on each batch: `dcca` asks for at least 4 rows per
    dimension, so batch 64 allows 16 (the audio-sheet literature uses 32 with larger batches)."""
    cnn_channels: str = "8,16,32,32"
    """The `cnn` encoders' conv channels: a sixth of their default width (as in the demo), so a
    cell takes minutes, not hours, on the CPU."""
    cnn_hidden: int = 128
    cnn_arch: str = "vgg"
    """Measured with the VGG-style body, no augmentation and a constant learning rate (the
    defaults before 0.2), pinned so its cells stay comparable with one another."""
    schedule: str = "constant"
    songs: int = 300
    threads: int | None = 1
    sheet_height: int = 32
    audio_seconds: float = 15.0
    """The audio `cnn`'s `max_seconds`: the 95th percentile of LMD passages is 14 s."""

    def describe(self) -> str:
        stop = "no early stopping" if not self.patience else f"patience {self.patience}"
        return (
            f"{self.epochs} epochs, batch {self.batch_size}, Adam lr {self.lr:g}, encoders' width {self.dim}, "
            f"{stop} (the epoch with the best validation MRR is kept); `cnn` encoders with channels "
            f"{self.cnn_channels}, hidden {self.cnn_hidden}, sheet height {self.sheet_height} px, audio cut at "
            f"{self.audio_seconds:g} s"
        )


BUDGET = Budget()


@dataclass(frozen=True)
class TimeBudget:
    """A wall-clock budget at the defaults a user gets: `train --max-time`, nothing else set."""

    max_time: str = "15m"
    songs: int = 200
    """The pinned build: 200 songs of the shared sample at the build defaults of 0.1.0."""
    threads: int | None = None
    """None: torch's default, every core (what a user's run gets)."""

    def describe(self) -> str:
        return (
            f"`ugaar-kit train --max-time {self.max_time}` at every default (encoders, batch, schedule, "
            "augmentation; the objective's own batch size), all the machine's cores, one cell at a time"
        )


TIME_BUDGETS = {t: TimeBudget(t) for t in ("5m", "15m", "45m")}
HEADLINE = "15m"
"""The budget of the headline rows (`--only defaults`)."""


@dataclass(frozen=True)
class Variant:
    """A named change to a cell's run: objective options, or no training at all."""

    tag: str
    options: tuple[tuple[str, str], ...] = ()
    """`-o objective.KEY=VALUE` pairs."""
    encoder: tuple[tuple[str, str, str], ...] = ()
    """`-o MODALITY.KEY=VALUE` triples (cells under a wall-clock budget)."""
    epochs: int | None = None
    """None: the budget's epochs; 0: an untrained model."""
    label: str = ""


TWO_STAGE_AT = 0.75
"""Where the two-stage baseline freezes its audio-sheet space: three quarters of the budget for
it (the contrastive audio-sheet run gets all of it), the rest for the lyrics head, at a learning
rate already down to 15% of its peak."""

VARIANTS = {
    "base": Variant("base"),
    "random": Variant("random", epochs=0, label="random encoders (0 epochs)"),
    "adv0": Variant("adv0", (("adversarial_weight", "0"),), label="adversarial_weight=0"),
    "transfer0": Variant("transfer0", (("transfer_weight", "0"),), label="transfer_weight=0"),
    "rank": Variant("rank", (("rank_weight", "1"),), label="rank_weight=1 (deep CCA + ranking loss)"),
    "bend": Variant(
        "bend", (("detach_targets", "false"),), label="detach_targets=false (the lyrics terms reach audio and sheet)"
    ),
    "noaug": Variant(
        "noaug",
        encoder=(
            ("audio", "stretch", "0"),
            ("audio", "freq_mask", "0"),
            ("audio", "time_mask", "0"),
            ("sheet", "stretch", "0"),
            ("sheet", "shift", "0"),
        ),
        label="no augmentation",
    ),
    "notext": Variant("notext", encoder=(("lyrics", "text", "false"),), label="prosody without the syllables' text"),
    "nostress": Variant("nostress", encoder=(("lyrics", "stress", "false"),), label="prosody without stress"),
    "nowordpos": Variant(
        "nowordpos", encoder=(("lyrics", "word_position", "false"),), label="prosody without word position"
    ),
    "sum": Variant(
        "sum",
        encoder=(("audio", "pooling", "mean+max+sum"), ("sheet", "pooling", "mean+max+sum")),
        label="audio and sheet pooled with the masked sum too (a note count)",
    ),
    "sumnotext": Variant(
        "sumnotext",
        encoder=(
            ("audio", "pooling", "mean+max+sum"),
            ("sheet", "pooling", "mean+max+sum"),
            ("lyrics", "text", "false"),
        ),
        label="sum pooling, and prosody without the syllables' text",
    ),
    "anchored": Variant(
        "anchored",
        (("anchors", "audio,sheet"),),
        label="anchors=audio,sheet (the lyrics pairs do not move audio and sheet)",
    ),
    "gru": Variant("gru", encoder=(("audio", "gru", "true"), ("sheet", "gru", "true")), label="a GRU over time"),
    "onsets": Variant("onsets", encoder=(("audio", "onsets", "true"),), label="audio cnn with its onset count"),
    "onsetsnotext": Variant(
        "onsetsnotext",
        encoder=(("audio", "onsets", "true"), ("lyrics", "text", "false")),
        label="audio onset count, and prosody without the syllables' text",
    ),
    "onsetslight": Variant(
        "onsetslight",
        (("weights", "audio-lyrics:0.25,sheet-lyrics:0.25"),),
        encoder=(("audio", "onsets", "true"), ("lyrics", "text", "false")),
        label="as onsetsnotext, the lyrics pairs weighted 0.25 against audio-sheet's 1",
    ),
    "gtnce": Variant(
        "gtnce",
        (("ground_truth", "contrastive"), ("rho_power", "1")),
        encoder=(("audio", "onsets", "true"), ("lyrics", "text", "false")),
        label="audio onset count, prosody without the syllables' text (InfoNCE ground truth, as the default)",
    ),
    "gtncebend": Variant(
        "gtncebend",
        (("ground_truth", "contrastive"), ("detach_targets", "false")),
        encoder=(("audio", "onsets", "true"), ("lyrics", "text", "false")),
        label="audio onset count, prosody without the syllables' text, `detach_targets=false` (the lyrics terms train audio and sheet)",
    ),
    "twostage": Variant(
        "twostage",
        (("anchors", "audio,sheet"), ("freeze_anchors_at", str(TWO_STAGE_AT))),
        encoder=(("audio", "onsets", "true"), ("lyrics", "text", "false")),
        label=f"two stages: audio-sheet alone to {TWO_STAGE_AT:.0%} of the schedule, then the lyrics onto it frozen "
        "(audio onset count, prosody without the syllables' text)",
    ),
    "strongaug": Variant(
        "strongaug",
        encoder=(
            ("audio", "stretch", "0.3"),
            ("audio", "freq_mask", "12"),
            ("audio", "time_mask", "0.2"),
            ("sheet", "stretch", "0.3"),
            ("sheet", "shift", "5"),
        ),
        label="stronger augmentation",
    ),
}


@dataclass(frozen=True)
class Cell:
    """One training run and its evaluation."""

    objective: str
    modalities: tuple[str, ...]
    lyrics: str | None
    variant: str = "base"
    seed: int = 0
    budget: str = ""
    """A wall-clock budget (`15m`: `train --max-time 15m` at the defaults) or "" (the 0.1 budget)."""

    @property
    def config(self) -> str:
        """The cell's name without its seed: what a table row gathers over seeds."""
        parts = [self.objective, "".join(MODALITY_TAGS.get(m, m) for m in self.modalities)]
        if self.lyrics is not None:
            parts.append(self.lyrics)
        if self.variant != "base":
            parts.append(self.variant)
        if self.budget:
            parts.append(self.budget)
        return "-".join(parts)

    @property
    def name(self) -> str:
        return f"{self.config}-s{self.seed}"

    @property
    def options(self) -> dict[str, str]:
        return dict(VARIANTS[self.variant].options)

    def epochs(self, budget: Budget | TimeBudget) -> int | None:
        """The variant's epochs, else the budget's (None under a wall-clock budget: as many as fit)."""
        fixed = VARIANTS[self.variant].epochs
        return getattr(budget, "epochs", None) if fixed is None else fixed

    @property
    def encoder_options(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for modality, key, value in VARIANTS[self.variant].encoder:
            out.setdefault(modality, {})[key] = value
        return out

    def groups(self) -> set[str]:
        """The tables the cell appears in: `defaults`, `ablation`, `lyrics` and `lyrics-ablation`
        (wall-clock budgets; `lyrics` the three-modality ones), `main`,
        `random`, `evidence` (the 0.1 budget)."""
        if self.budget and (self.objective == "ugaar" or self.variant == "twostage"):
            return {"ugaar-defaults"}
        if self.budget:
            headline = self.budget == HEADLINE and self.variant in ("base", "rank")
            if self.modalities == ASL:
                return {"lyrics"} if headline else {"lyrics-ablation"}
            return {"defaults"} if headline else {"ablation"}
        out = set()
        if self.variant == "random":
            out.add("random")
        if self.modalities == ASL and self.variant == "base":
            out.add("main")
        baseline = self.objective in ("contrastive", "dcca") and self.variant == "base"
        baseline |= self.objective == "dcca" and self.variant == "rank"
        ugaar = self.objective == "ugaar" and self.variant in ("base", "adv0", "transfer0", "bend")
        if self.lyrics in (None, "doc2vec") and (baseline or ugaar):
            out.add("evidence")
        return out

    def matches(self, pattern: str) -> bool:
        """`--only` rule: the name, its seedless config, a dash-separated part, a group, or a glob."""
        parts = set(self.name.split("-"))
        return (
            pattern in (self.name, self.config)
            or pattern in parts
            or pattern in self.groups()
            or fnmatch.fnmatchcase(self.name, pattern)
            or fnmatch.fnmatchcase(self.config, pattern)
        )


LYRICS_ROWS = (
    ("contrastive", "prosody"),
    ("contrastive", "doc2vec"),
    ("contrastive", "transformer"),
    ("ugaar", "doc2vec"),
)
"""The three-modality rows at the defaults under the headline budget, three seeds each; the last is
the design card's command (`--audio cnn --lyrics doc2vec --objective ugaar`) at every default."""
PROSODY_ABLATIONS = (
    "anchored",
    "gru",
    "sum",
    "sumnotext",
    "onsets",
    "onsetsnotext",
    "onsetslight",
    "notext",
    "nostress",
    "nowordpos",
)
"""A GRU over the audio and sheet conv features, sum pooling, the audio's onset count, then the `prosody`
encoder with one kind of feature switched off, seed 0."""
UGAAR_CELLS = (("prosody", "gtnce"), ("prosody", "gtncebend"), ("doc2vec", "adv0"), ("doc2vec", "transfer0"))
"""UGAAR ablations at the defaults' budget, seed 0: the InfoNCE ground truth with the best lyrics
setting of the contrastive runs, without and with the lyrics terms reaching audio and sheet; the
design card's command without its adversarial term, and without its transfer terms."""
BASELINE_ROWS = (("contrastive", "prosody", "twostage"),)
"""Headline rows beside UGAAR (three seeds): a contrastive audio-sheet space trained, frozen, and a
lyrics head trained onto it, in one budget, with the encoders of UGAAR's `prosody` cells."""
DEFAULT_ROWS = (("cca", "base"), ("dcca", "base"), ("dcca", "rank"), ("contrastive", "base"))
"""The audio-sheet rows measured at the defaults under the headline budget, three seeds each."""
ABLATION_VARIANTS = ("noaug", "gru", "strongaug")
ABLATIONS = (("noaug", HEADLINE), ("gru", HEADLINE), ("strongaug", HEADLINE), ("base", "5m"), ("base", "45m"))
"""Contrastive audio-sheet cells changing one thing of the headline row (variant, budget)."""


def grid(seeds: Sequence[int] = SEEDS) -> list[Cell]:
    """Every cell: the audio-sheet rows at the defaults and their ablations, then the 0.1 grid (the
    main table, the random-encoder rows and the UGAAR evidence grid)."""
    cells: list[Cell] = []
    for seed in seeds:
        cells += [Cell(objective, AS, None, variant, seed, HEADLINE) for objective, variant in DEFAULT_ROWS]
    if ABLATION_SEED in seeds:
        cells += [Cell("contrastive", AS, None, v, ABLATION_SEED, b) for v, b in ABLATIONS]
    for seed in seeds:
        cells += [Cell(objective, ASL, lyrics, "base", seed, HEADLINE) for objective, lyrics in LYRICS_ROWS]
    if ABLATION_SEED in seeds:
        cells += [Cell("contrastive", ASL, "prosody", v, ABLATION_SEED, HEADLINE) for v in PROSODY_ABLATIONS]
        cells += [Cell("ugaar", ASL, lyrics, v, ABLATION_SEED, HEADLINE) for lyrics, v in UGAAR_CELLS]
    for seed in seeds:
        cells += [Cell(objective, ASL, lyrics, v, seed, HEADLINE) for objective, lyrics, v in BASELINE_ROWS]
    for seed in seeds:
        for lyrics in LYRICS_ENCODERS:
            cells.append(Cell("contrastive", ASL, lyrics, "random", seed))
            for objective in OBJECTIVES:
                cells.append(Cell(objective, ASL, lyrics, "base", seed))
        cells.append(Cell("contrastive", AS, None, "base", seed))
        cells.append(Cell("dcca", AS, None, "base", seed))
        cells.append(Cell("dcca", AS, None, "rank", seed))
        cells.append(Cell("ugaar", ASL, "doc2vec", "adv0", seed))
        cells.append(Cell("ugaar", ASL, "doc2vec", "transfer0", seed))
        cells.append(Cell("ugaar", ASL, "doc2vec", "bend", seed))
    names = [c.name for c in cells]
    assert len(names) == len(set(names)), "cell names must be unique"
    return cells


def select(cells: Iterable[Cell], only: Sequence[str] = (), seeds: Sequence[int] | None = None) -> list[Cell]:
    """The cells matching any `only` pattern (all when none) and one of `seeds` (all when None)."""
    return [c for c in cells if (not only or any(c.matches(p) for p in only)) and (seeds is None or c.seed in seeds)]


# -- state ---------------------------------------------------------------------------------
def cell_folder(root: Path, cell: Cell) -> Path:
    return Path(root) / cell.name


def cell_state(folder: Path) -> str:
    """`done` (result written), `trained` (model.pt, not evaluated), `interrupted` (a run to
    resume), `failed` (the last attempt raised; retried next time) or `pending`."""
    folder = Path(folder)
    if read_json(folder / RESULT) is not None:
        return "done"
    run = folder / RUN
    if (run / "model.pt").is_file():
        return "trained"
    if (run / "config.toml").is_file():
        return "interrupted"
    if (folder / ERROR).is_file():
        return "failed"
    return "pending"


# -- the dataset ---------------------------------------------------------------------------
def dataset_folder(songs: int) -> Path:
    return DATA / f"lmd-{songs}"


def build_command(source: Path, out: Path, songs: int, workers: int = 1) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ugaar_kit",
        "dataset",
        "build",
        str(source),
        "--format",
        "lmd-lyrics",
        "--out",
        str(out),
        "--limit-songs",
        str(songs),
        "--workers",
        str(workers),
        "--quiet",
    ]


def ensure_dataset(
    out: Path, songs: int, source: Path = LMD, workers: int = 1, say: Callable[[str], None] = print
) -> Path:
    """The dataset folder `out`, built from the LMD sample with `dataset build` when it has no
    manifest yet (the builder resumes its own interrupted work)."""
    info = read_json(out / "dataset.json") or {}
    if (out / "manifest.jsonl").is_file() and info.get("complete", True):
        return out
    if not (source / "Sentence_Parsing").is_dir():
        raise SystemExit(f"{source}: no LMD sample (Sentence_Parsing/) to build the dataset from; set UGAAR_KIT_LMD")
    cmd = build_command(source, out, songs, workers)
    say(f"building the dataset ({songs} songs): {' '.join(cmd[2:])}")
    started = time.perf_counter()
    subprocess.run(cmd, check=True)
    say(f"dataset built in {time.perf_counter() - started:.0f} s: {out}")
    return out


def dataset_summary(data: Path) -> dict[str, Any]:
    """Songs, items and candidates per split, and the manifest's hash (results name the data)."""
    from ugaar_kit.interfaces.dataset import SPLITS, DatasetFolder
    from ugaar_kit.retrieval.evaluation import group_keys
    from ugaar_kit.retrieval.metrics import group_ids

    folder = DatasetFolder(data)
    digest = folder.identity()["manifest_sha256"]
    splits = {}
    for s in SPLITS:
        items = folder.split(s)
        splits[s] = {
            "items": len(items),
            "songs": len({it.song for it in items}),
            "candidates": group_ids(group_keys(items), len(items))[1] if items else 0,
        }
    return {
        "name": folder.info.get("name", folder.root.name),
        "folder": folder.root.name,
        "songs": len({it.song for it in folder.items}),
        "manifest_sha256": digest,
        "clef": folder.info.get("render", {}).get("clef", "passage"),
        "splits": splits,
    }


# -- running one cell ----------------------------------------------------------------------
@dataclass
class Context:
    """What every cell of one invocation shares."""

    data: Path
    registry: Any
    budget: Budget = BUDGET
    root: Path = QUALITY
    pool: int = 1000
    draws: int = 10
    pool_seed: int = 0
    encoders: dict[str, str] = field(default_factory=lambda: {"audio": "cnn", "sheet": "cnn"})
    """The audio and sheet encoders of every cell (the lyrics encoder is the cell's)."""
    workers: int | None = None
    cache_dir: Path | None = None
    """Feature caches (default: the dataset's `.cache`, shared by every cell)."""
    dataset: dict[str, Any] = field(default_factory=dict)
    time_budgets: dict[str, TimeBudget] = field(default_factory=lambda: dict(TIME_BUDGETS))

    def budget_for(self, cell: Cell) -> Budget | TimeBudget:
        """The cell's wall-clock budget, or the 0.1 budget for a cell named without one."""
        return self.time_budgets[cell.budget] if cell.budget else self.budget


def encoder_names(cell: Cell, ctx: Context) -> dict[str, str]:
    """The cell's encoder per modality: the context's audio and sheet encoders (the `flat` raw
    features for `cca`, which trains nothing) and the cell's lyrics encoder."""
    fixed = cell.objective == "cca"
    names = {m: (FIXED_FEATURES[m] if fixed else ctx.encoders[m]) for m in cell.modalities if m in ctx.encoders}
    if "lyrics" in cell.modalities:
        if cell.lyrics is None:
            raise ValueError(f"cell {cell.name}: lyrics modality without a lyrics encoder")
        names["lyrics"] = cell.lyrics
    return names


def encoder_overrides(ctx: Context, names: dict[str, str], trained: bool = True) -> dict[str, dict[str, str]]:
    """The 0.1 budget's `-o MODALITY.dim=<budget dim>` for every chosen encoder that has a `dim`
    option (when the encoders are `trained`; linear CCA keeps their default widths), and its
    sizes for the `cnn` encoders."""
    b = ctx.budget
    out: dict[str, dict[str, str]] = {}
    for modality, name in names.items():
        wanted = {"dim": str(b.dim)} if trained else {}
        if name == "cnn":
            wanted |= {"channels": b.cnn_channels, "hidden": str(b.cnn_hidden), "arch": b.cnn_arch}
            wanted |= {"stretch": "0", "freq_mask": "0", "time_mask": "0", "shift": "0"}  # no augmentation
            wanted |= {"height": str(b.sheet_height)} if modality == "sheet" else {}
            wanted |= {"max_seconds": str(b.audio_seconds)} if modality == "audio" else {}
        fields = {f.name for f in dataclasses.fields(ctx.registry.get("encoder", name, modality).options_class)}
        values = {k: v for k, v in wanted.items() if k in fields}
        if values:
            out[modality] = values
    return out


def run_config(cell: Cell, ctx: Context, run_dir: Path, resume: bool) -> Any:
    """The `RunConfig` of a cell: a fresh run, or the resumption of the one in `run_dir`."""
    from ugaar_kit.runfolder.config import resolve_config
    from ugaar_kit.training.assemble import slots_of

    slots = slots_of(ctx.registry)
    if resume:
        return resolve_config(None, {"resume": run_dir, "workers": ctx.workers}, {}, {}, slots)
    names = encoder_names(cell, ctx)
    b = ctx.budget_for(cell)
    if isinstance(b, TimeBudget):
        overrides = cell.encoder_options
        if cell.options:
            overrides["objective"] = dict(cell.options)
        settings = {
            "data": ctx.data,
            "out": run_dir,
            "max_time": b.max_time,
            "seed": cell.seed,
            "workers": ctx.workers,
            "cache_dir": ctx.cache_dir,
        }
        return resolve_config(None, settings, {**names, "objective": cell.objective}, overrides, slots)
    overrides = encoder_overrides(ctx, names, trained=cell.objective != "cca")
    if cell.options:
        overrides["objective"] = dict(cell.options)
    settings = {
        "data": ctx.data,
        "out": run_dir,
        "epochs": cell.epochs(b),
        "batch_size": b.batch_size,
        "lr": b.lr,
        "seed": cell.seed,
        "patience": b.patience,
        "schedule": b.schedule,
        "device": "cpu",
        "workers": ctx.workers,
        "cache_dir": ctx.cache_dir,
    }
    return resolve_config(None, settings, {**names, "objective": cell.objective}, overrides, slots)


def user_command(cell: Cell, ctx: Context, run_dir: Path) -> str | None:
    """What a user types to train the cell (cells under a wall-clock budget), paths relative to
    the repository."""
    b = ctx.budget_for(cell)
    if not isinstance(b, TimeBudget):
        return None
    words = ["ugaar-kit", "train", "--data", relative(ctx.data), "--out", relative(run_dir)]
    words += ["--objective", cell.objective]
    words += [w for m, n in encoder_names(cell, ctx).items() for w in (f"--{m}", n)]
    words += ["--max-time", b.max_time, "--seed", str(cell.seed)]
    options = {**cell.encoder_options, "objective": cell.options}
    words += [w for m, kv in options.items() for k, v in kv.items() for w in ("-o", f"{m}.{k}={v}")]
    return " ".join(words)


def relative(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def effective_pool(ctx: Context) -> int | None:
    """The pool size: `ctx.pool`, or the whole test split when it has fewer candidates."""
    candidates = ctx.dataset.get("splits", {}).get("test", {}).get("candidates")
    if candidates is not None and candidates < ctx.pool:
        return None
    return ctx.pool


def training_record(run_dir: Path) -> dict[str, Any]:
    """From the run folder: epochs, best epoch, validation MRR and the seconds the epochs took."""
    from ugaar_kit.runfolder import files as rf

    info = read_json(run_dir / rf.INFO) or {}
    rows = []
    metrics = run_dir / rf.METRICS
    if metrics.is_file():
        rows = [json.loads(line) for line in metrics.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {
        "run_id": info.get("run_id"),
        "training": info.get("training", {}),
        "epochs_trained": info.get("epochs_trained", len(rows)),
        "best_epoch": info.get("best_epoch"),
        "best_valid_mrr": info.get("best_valid_mrr"),
        "epoch_seconds": round(sum(float(r.get("seconds", 0.0)) for r in rows), 1),
        "dims": info.get("dims"),
        "shared_dim": info.get("shared_dim"),
        "components": {k: v.get("name") for k, v in (info.get("components") or {}).items()},
        "items": info.get("items"),
    }


@contextlib.contextmanager
def log_console(path: Path) -> Iterator[Any]:
    from rich.console import Console

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"\n== {now()} ==\n")
        yield Console(file=fh, width=140, force_terminal=False, highlight=False, soft_wrap=True)


def run_cell(cell: Cell, ctx: Context, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Train (or resume, or skip when trained) and evaluate one cell; write and return its result.

    A cell with a result is returned as it is, never recomputed."""
    from ugaar_kit.retrieval.evaluation import evaluate
    from ugaar_kit.training.trainer import train

    folder = cell_folder(ctx.root, cell)
    state = cell_state(folder)
    if state == "done":
        result = read_json(folder / RESULT)
        assert result is not None
        return result
    run_dir = folder / RUN
    budget = ctx.budget_for(cell)
    folder.mkdir(parents=True, exist_ok=True)
    if state in ("pending", "failed") and run_dir.exists() and any(run_dir.iterdir()):
        # stopped before the trainer wrote config.toml: nothing to resume, keep it aside
        run_dir.rename(folder / f"run.stale-{int(time.time())}")
    (folder / ERROR).unlink(missing_ok=True)
    started, ticks = time.perf_counter(), cpu_times()
    with log_console(folder / LOG) as console:
        if state != "trained":
            resume = state == "interrupted"
            say(f"{cell.name}: {'resuming' if resume else 'training'}")
            config = run_config(cell, ctx, run_dir, resume)
            train(config, ctx.registry, console=console, progress=False)
        trained, steal = time.perf_counter(), steal_percent(ticks, cpu_times())
        pool = effective_pool(ctx)
        say(f"{cell.name}: evaluating on the test split (pool {pool or 'whole split'})")
        figures = evaluate(
            run_dir,
            ctx.data,
            split="test",
            pool=pool,
            draws=ctx.draws,
            seed=ctx.pool_seed,
            registry=ctx.registry,
            say=lambda m: console.print(m, markup=False),
        )
    done = time.perf_counter()
    result = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "cell": {
            **asdict(cell),
            "modalities": list(cell.modalities),
            "name": cell.name,
            "config": cell.config,
            "options": cell.options,
        },
        "budget": {**asdict(budget), "epochs": cell.epochs(budget)},
        "command": user_command(cell, ctx, run_dir),
        "encoders": encoder_names(cell, ctx),
        "dataset": ctx.dataset,
        "evaluation": {"split": "test", "pool": pool, "draws": ctx.draws, "pool_seed": ctx.pool_seed},
        "train": {**training_record(run_dir), "resumed": state == "interrupted", "skipped": state == "trained"},
        "wall_seconds": {"train": round(trained - started, 1), "evaluate": round(done - trained, 1)},
        "figures": figures,
        "machine": {**machine(), "cpu_steal_percent": steal},
        "finished": now(),
    }
    write_json(result, folder / RESULT)
    return result


# -- one process per shard --------------------------------------------------------------------
@contextlib.contextmanager
def exclusive(root: Path, shard: str = "") -> Iterator[None]:
    """Hold `root/.lock<shard>` (released when the process ends, even if killed); exit if taken."""
    import fcntl

    root.mkdir(parents=True, exist_ok=True)
    fh = (root / f".lock{shard}").open("a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        running = read_json(root / f".running{shard}") or {}
        raise SystemExit(
            f"another quality.py runs (pid {running.get('pid', '?')}, cell {running.get('cell', '?')}): "
            "one process at a time per shard"
        ) from None
    try:
        yield
    finally:
        (root / f".running{shard}").unlink(missing_ok=True)
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def running_cells(root: Path) -> set[str]:
    """The cells live processes are running now."""
    out = set()
    for path in root.glob(".running*"):
        info = read_json(path) or {}
        pid = info.get("pid")
        if not isinstance(pid, int):
            continue
        try:
            os.kill(pid, 0)
        except OSError:
            continue
        if info.get("cell"):
            out.add(info["cell"])
    return out


def parse_shard(text: str) -> tuple[int, int]:
    """`K/N` -> (K, N), 1 <= K <= N."""
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard wants K/N, e.g. 1/2, not {text!r}") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"--shard {text}: K must be between 1 and N")
    return k, n


def command_for(patterns: Sequence[str]) -> str:
    """The command that runs the cells matching `patterns`."""
    return f"{PYTHON} benchmarks/quality.py " + " ".join(f"--only {p}" for p in patterns)


# -- the command ---------------------------------------------------------------------------
def list_cells(cells: Sequence[Cell], root: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    live = running_cells(root)
    table = Table(title=f"quality cells under {root}")
    for col in ("cell", "tables", "state", "a->s MRR", "train s"):
        table.add_column(col, justify="right" if col in ("a->s MRR", "train s") else "left")
    counts: dict[str, int] = {}
    for c in cells:
        folder = cell_folder(root, c)
        state = "running" if c.name in live else cell_state(folder)
        counts[state] = counts.get(state, 0) + 1
        mrr = secs = ""
        result = read_json(folder / RESULT) if state == "done" else None
        if result:
            d = result.get("figures", {}).get("directions", {}).get("audio->sheet", {})
            mrr = f"{d['MRR']:.3f}" if "MRR" in d else ""
            secs = f"{result.get('wall_seconds', {}).get('train', 0):.0f}"
        table.add_row(c.name, ",".join(sorted(c.groups())), state, mrr, secs)
    table.caption = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    Console(width=140).print(table)


def interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def parse_seeds(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", action="store_true", help="show the cells and their state, run nothing")
    ap.add_argument(
        "--only", action="append", default=[], help="cells to run: a name, a part (ugaar, as, adv0), a group, a glob"
    )
    ap.add_argument("--seeds", type=parse_seeds, default=None, help="comma-separated seeds (default 0,1,2)")
    ap.add_argument(
        "--songs",
        type=int,
        default=None,
        help="songs of the LMD sample in the dataset (default: the budget's, 200 at the defaults, 300 for 0.1)",
    )
    ap.add_argument("--data", type=Path, default=None, help="use this dataset folder instead of building one")
    ap.add_argument("--source", type=Path, default=LMD, help="the LMD lyrics-melody sample")
    ap.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: the budget's, every core or 1 for 0.1)"
    )
    ap.add_argument("--workers", type=int, default=None, help="feature-cache processes (trainer default)")
    ap.add_argument(
        "--shard",
        type=parse_shard,
        default=None,
        help="K/N: run only every N-th cell to do, from the K-th, so N processes share the cells; start the "
        "second once the first has filled the feature caches (a cache being filled refuses other writers)",
    )
    ap.add_argument("--keep-going", action="store_true", help="go on with the next cell when one fails")
    ap.add_argument(
        "--root",
        type=Path,
        default=QUALITY,
        help="the cells' folder (default benchmarks/results/quality); wall-clock cells measured on another "
        "machine kind go in their own (e.g. benchmarks/results/quality-epyc), never beside these",
    )
    args = ap.parse_args(argv)
    root = args.root

    cells = select(grid(), args.only, args.seeds)
    if not cells:
        raise SystemExit(f"no cell matches {' '.join(args.only)} (see --list)")
    if args.list:
        list_cells(cells, root)
        return 0

    import torch

    from ugaar_kit.registry.discovery import get_registry

    cores = torch.get_num_threads()
    shard = f"-{args.shard[0]}-of-{args.shard[1]}" if args.shard else ""
    with exclusive(root, shard):
        registry = get_registry()
        contexts: dict[int, Context] = {}

        def context_for(cell: Cell) -> Context:
            """One context (dataset) per song count, built or summarised on first use."""
            songs = args.songs or (TIME_BUDGETS[cell.budget] if cell.budget else BUDGET).songs
            if songs not in contexts:
                data = args.data or dataset_folder(songs)
                if args.data is None:
                    ensure_dataset(data, songs, args.source, args.workers or 1)
                ctx = Context(data=data, registry=registry, root=root, workers=args.workers)
                ctx.dataset = {**dataset_summary(data), "requested_songs": None if args.data else songs}
                contexts[songs] = ctx
            return contexts[songs]

        if args.shard:  # over the whole selection, so shards started at different times never overlap
            cells = cells[args.shard[0] - 1 :: args.shard[1]]
        todo = [c for c in cells if cell_state(cell_folder(root, c)) != "done"]
        print(f"{len(cells) - len(todo)} of {len(cells)} cells done; running {len(todo)}")
        failed = 0
        signal.signal(signal.SIGTERM, interrupt)  # `kill PID` stops as cleanly as Ctrl-C
        for n, cell in enumerate(todo, 1):
            write_json({"pid": os.getpid(), "cell": cell.name, "started": now()}, root / f".running{shard}")
            print(f"[{n}/{len(todo)}] {cell.name}")
            try:
                ctx = context_for(cell)
                torch.set_num_threads(args.threads or ctx.budget_for(cell).threads or cores)
                result = run_cell(cell, ctx)
            except KeyboardInterrupt:
                print(f"interrupted: run the same command again to resume {cell.name}")
                return 130
            except Exception as exc:  # noqa: BLE001 - recorded in the cell, the others go on
                failed += 1
                folder = cell_folder(root, cell)
                folder.mkdir(parents=True, exist_ok=True)
                (folder / ERROR).write_text(traceback.format_exc(), encoding="utf-8")
                print(f"{cell.name} failed: {type(exc).__name__}: {exc} (see {folder / ERROR})")
                if not args.keep_going:
                    return 1
                continue
            dirs = result["figures"]["directions"]
            print("  " + ", ".join(f"{d} MRR {v['MRR']:.3f}" for d, v in dirs.items()))
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
