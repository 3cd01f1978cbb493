"""Speed and memory on this machine, each beside the obvious alternative measured in the same run.

    .venv/bin/python benchmarks/speed.py                    # every section (about an hour)
    .venv/bin/python benchmarks/speed.py --only search      # one section (repeatable)
    .venv/bin/python benchmarks/report.py                   # tables into docs/benchmarks.md

Sections, each writing `benchmarks/results/speed/<section>.json`:

- `build`: `ugaar-kit dataset build` on 40 LMD songs, passages per second (1 and all cores, FLAC and
  WAV audio), audio bytes a passage, the stages' milliseconds a passage;
- `train`: training samples per second per objective (encoders forward+backward, loss, Adam),
  and one deep-CCA training step with our loss against cca_zoo's `CCALoss` on the same encoders
  and batches;
- `throughput`: samples/s of the default audio + sheet `cnn` pair (forward, backward, Adam) with
  the `strided` body (the default since 0.2) and the `vgg` one before it, on 1 and 2 threads,
  beside the GFLOP/s a plain 3x3 conv block reaches here;
- `dcca`: the deep-CCA loss alone, forward+backward, ours against cca_zoo's, and what each returns;
- `frontend`: decoding and log-mel of the dataset's audio, the `cnn` audio encoder's front end
  (soundfile + torchaudio) against librosa with the same parameters, and how far they differ;
- `embed`: `embed` of 1,000 and 10,000 dataset files (audio and sheet) with a run of the
  real encoders: files/s, audio seconds/s, peak memory;
- `pipeline`: `embed` of 1,000 and 10,000 generated files (benchmarks/embed.py) with the tests'
  fake encoders and 1 and 2 loader workers: the pipeline's own cost;
- `search`: exact top-10 cosine search at 10^4, 10^5, 10^6 stored rows (NumPy, in memory and
  from HDF5) against a full argsort, and faiss when importable;
- `long`: a 10-hour recording through `embed` and `search`: peak memory beside a 10-s one;
- `index`: `store index`'s faiss index on stores of 10^5 and 10^6 synthetic rows: build time,
  recall@10 reported and on new queries, a query's time against exact search (needs faiss);
- `objectives`, `lyrics`: the figures of benchmarks/objectives.py and benchmarks/lyrics_encoders.py.

The optional comparisons need the `bench` extra (`pip install librosa cca-zoo` into .venv);
without them the section says so. Timings depend on what else runs: the notes say how busy
the machine was (load average) when a section ran.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from records import LMD, PYTHON, SPEED, machine, now, read_json, write_json

SECTIONS = (
    "build",
    "train",
    "throughput",
    "dcca",
    "frontend",
    "embed",
    "pipeline",
    "search",
    "long",
    "index",
    "objectives",
    "lyrics",
)
FORMAT = "ugaar-kit-benchmark-speed"


def command_for(section: str) -> str:
    return f"{PYTHON} benchmarks/speed.py --only {section}"


def load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min) / {five:.1f} (5 min) on {os.cpu_count()} cores when this section ended"


def record(
    section: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], notes: Sequence[str], data: Any, **extra: Any
) -> dict[str, Any]:
    """A section's result: the table as shown (strings), notes, raw figures, machine, command."""
    return {
        "format": FORMAT,
        "section": section,
        "command": command_for(section),
        "columns": list(columns),
        "rows": [[str(x) for x in row] for row in rows],
        "notes": [*notes, load_note()],
        "data": data,
        "machine": machine(),
        "finished": now(),
        **extra,
    }


def best_of(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> tuple[float, float]:
    """(median, min) wall seconds of `fn` over `repeats` calls after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def fmt(x: float, digits: int = 3) -> str:
    """A figure with `digits` significant digits, thousands separated."""
    if x == 0 or not (abs(x) < 1e15):
        return f"{x:g}"
    from math import floor, log10

    decimals = max(0, digits - 1 - int(floor(log10(abs(x)))))
    return f"{x:,.{decimals}f}"


# -- the dataset the sections read ---------------------------------------------------------
def dataset(args: argparse.Namespace) -> Path:
    """`--data`, or the quality benchmark's dataset (built when missing)."""
    import quality

    if args.data is not None:
        return args.data
    return quality.ensure_dataset(quality.dataset_folder(args.songs), args.songs, LMD, 1)


# -- build -------------------------------------------------------------------------------
def section_build(args: argparse.Namespace) -> dict[str, Any]:
    """The whole `dataset build` command on `--build-songs` LMD songs from scratch, with one
    process and with one per core, FLAC (the default) and WAV audio: passages/s (median of
    `--build-repeats`), audio bytes a passage, and the seconds of each stage."""
    import statistics as stats

    rows, data = [], []
    cores = os.cpu_count() or 1
    for workers in sorted({1, cores}):
        runs: dict[str, list[dict[str, Any]]] = {"flac": [], "wav": []}
        for _ in range(args.build_repeats):  # the formats in turn, so a slow spell hits both
            for audio_format in runs:
                runs[audio_format].append(build_once(args, workers, audio_format))
        for audio_format, done in runs.items():
            run = sorted(done, key=lambda r: r["seconds"])[len(done) // 2]  # the median run
            passages = run["passages"]
            stages = ", ".join(f"{k} {1000 * v / passages:.1f}" for k, v in run["stages"].items())
            rows.append(
                [
                    workers,
                    audio_format,
                    args.build_songs,
                    passages,
                    f"{run['seconds']:.1f}",
                    fmt(passages / run["seconds"]),
                    f"{run['audio_bytes'] / passages / 1000:.0f}",
                    stages,
                ]
            )
            data.append(
                {
                    "workers": workers,
                    "audio_format": audio_format,
                    "songs": args.build_songs,
                    "runs": done,
                    "median_seconds": stats.median(r["seconds"] for r in done),
                }
            )
        ratios = [f["seconds"] / w["seconds"] for f, w in zip(runs["flac"], runs["wav"])]
        data.append({"workers": workers, "flac_over_wav_paired": ratios, "median": stats.median(ratios)})
    notes = [
        "A passage is one lyric line: engraved with verovio, rasterised with resvg, written as a PNG; synthesized and "
        "written as FLAC or WAV (16-bit, 22.05 kHz); its lyrics normalized. Seconds: the whole command, start-up "
        f"included, the median of {args.build_repeats} runs. Stage ms: each stage's seconds as the build reports them "
        "(summed over its processes) per passage.",
        "0.1.0 built 57 passages a second with 2 processes on a quiet machine (resvg's PNG output, decoded again: 20 ms "
        "a passage of the 36 it cost; measured when issue 20 was filed, not in this run). The same files come out: "
        "tests/build/test_same_files.py. FLAC over WAV, the whole command, paired run by run: "
        + ", ".join(f"{d['median']:.2f} ({d['workers']} process(es))" for d in data if "median" in d)
        + " (median).",
    ]
    columns = [
        "workers",
        "audio",
        "songs",
        "passages",
        "seconds",
        "passages/s",
        "audio KB a passage",
        "stage ms a passage",
    ]
    return record("build", columns, rows, notes, data)


def build_once(args: argparse.Namespace, workers: int, audio_format: str) -> dict[str, Any]:
    """One `dataset build` from scratch: seconds, passages, audio bytes and stage seconds."""
    import quality

    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        out = Path(tmp) / "ds"
        cmd = [*quality.build_command(LMD, out, args.build_songs, workers), "--audio-format", audio_format]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        info = read_json(out / "dataset.json") or {}
        return {
            "seconds": seconds,
            "passages": int(info.get("passages", 0)),
            "audio_bytes": sum(p.stat().st_size for p in (out / "audio").rglob("*") if p.is_file()),
            "stages": stage_seconds(done.stdout),
        }


def stage_seconds(summary: str) -> dict[str, float]:
    """`{stage: seconds}` from the `stage seconds` line a build prints."""
    for line in summary.splitlines():
        if line.startswith("stage seconds"):
            parts = line.split(":", 1)[1].split(",")
            return {p.strip().rsplit(" ", 1)[0]: float(p.strip().rsplit(" ", 1)[1]) for p in parts}
    return {}


# -- train -------------------------------------------------------------------------------
TRAIN_CASES = (
    ("dcca", ("audio", "sheet"), None),
    ("contrastive", ("audio", "sheet"), None),
    ("dcca", ("audio", "sheet", "lyrics"), "doc2vec"),
    ("contrastive", ("audio", "sheet", "lyrics"), "doc2vec"),
    ("ugaar", ("audio", "sheet", "lyrics"), "doc2vec"),
    ("ugaar", ("audio", "sheet", "lyrics"), "transformer"),
)


def prepared_trainer(cell: Any, ctx: Any, folder: Path) -> Any:
    """A `Trainer` for a quality cell, prepared (encoders fitted, feature caches built)."""
    import quality
    from rich.console import Console

    from ugaar_kit.training.trainer import Trainer

    config = quality.run_config(cell, ctx, folder, resume=False)
    trainer = Trainer(config, ctx.registry, console=Console(file=open(os.devnull, "w")), progress=False)  # noqa: SIM115
    trainer.prepare()
    return trainer


def timed_steps(step: Callable[[list[int]], Any], batches: Sequence[list[int]], steps: int) -> list[float]:
    """Seconds of each of `steps` calls of `step` after one warm-up step."""
    step(list(batches[0]))
    times = []
    for b in batches[1 : steps + 1]:
        t0 = time.perf_counter()
        step(list(b))
        times.append(time.perf_counter() - t0)
    return times


def section_train(args: argparse.Namespace) -> dict[str, Any]:
    """Samples/s of training steps per objective on the quality benchmark's budget and data."""
    import quality
    import torch

    from ugaar_kit.registry.discovery import get_registry
    from ugaar_kit.training.loader import bucket_batches

    data = dataset(args)
    ctx = quality.Context(data=data, registry=get_registry(), workers=args.workers, cache_dir=args.cache_dir)
    b = ctx.budget
    rows, records, notes = [], [], []
    compared: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        for n, (objective, mods, lyrics) in enumerate(TRAIN_CASES):
            cell = quality.Cell(objective, mods, lyrics, "base", 0)
            trainer = prepared_trainer(cell, ctx, Path(tmp) / f"run{n}")
            try:
                batches = bucket_batches(trainer.train_lengths, b.batch_size, 0, 0, drop_last=True)
                torch.manual_seed(0)
                times = timed_steps(trainer.step, batches, args.steps)
                rate = b.batch_size / statistics.median(times)
                label = f"{objective}, {'+'.join(mods)}" + (f" ({lyrics})" if lyrics else "")
                epoch_min = len(trainer.train_items) / rate / 60
                rows.append([label, b.batch_size, f"{statistics.median(times):.2f}", fmt(rate), f"{epoch_min:.1f}"])
                records.append({"case": label, "batch": b.batch_size, "step_seconds": times, "samples_per_s": rate})
                if objective == "dcca" and mods == ("audio", "sheet"):
                    compared = compare_training_step(trainer, batches, args.steps)
            finally:
                trainer.close()
    columns = ["objective, modalities", "batch", "s/step", "samples/s", "min/epoch (train split)"]
    if compared is not None:
        if "error" in compared:
            notes.append(f"cca_zoo comparison not run: {compared['error']}")
        else:
            notes.append(
                f"Same encoders (audio `cnn` + sheet `cnn`), same batches of {b.batch_size}: a deep-CCA training step with our "
                f"`dcca` loss takes {compared['ours_s']:.2f} s, with cca_zoo {compared['version']} `CCALoss` {compared['theirs_s']:.2f} s "
                f"(ours/theirs time ratio {compared['ours_s'] / compared['theirs_s']:.2f}): the encoders dominate a step."
            )
    notes.append(
        f"Median of {args.steps} steps after one warm-up, {args.threads} torch thread(s), features read from the cache; "
        f"budget of the quality cells (batch {b.batch_size}, encoders' width {b.dim}). min/epoch = training items / samples/s."
    )
    return record("train", columns, rows, notes, {"cases": records, "cca_zoo": compared})


def compare_training_step(trainer: Any, batches: Sequence[list[int]], steps: int) -> dict[str, Any]:
    """Our `dcca` training step against the same step with cca_zoo's `CCALoss` as the loss."""
    try:
        import cca_zoo
        from cca_zoo.deep.objectives import CCALoss
    except ImportError:
        return {"error": "cca_zoo is not installed (pip install cca-zoo, the bench extra)"}
    loss_fn = CCALoss()

    def theirs(indices: list[int]) -> None:
        inputs = trainer.train_data.batch(indices, trainer.encoders, trainer.device)
        views = [trainer.models[m](inputs[m]).float() for m in ("audio", "sheet")]
        trainer.optimizers.step("main", loss_fn(views))

    ours_t = timed_steps(trainer.step, batches, steps)
    theirs_t = timed_steps(theirs, batches, steps)
    return {
        "version": cca_zoo.__version__,
        "ours_s": statistics.median(ours_t),
        "theirs_s": statistics.median(theirs_t),
        "ours": ours_t,
        "theirs": theirs_t,
    }


# -- dcca loss ---------------------------------------------------------------------------
THROUGHPUT_SHAPES = {"audio": (80, 110), "sheet": (64, 420)}
"""Median LMD passage: 5 s of log-mel at 21.5 frames/s, a 64-px snippet 420 px wide."""


def pair_rate(arch: str, threads: int, batch: int, steps: int) -> dict[str, float]:
    """Samples/s of the audio + sheet `cnn` pair at their defaults but `arch`: forward, a loss on
    both outputs, backward and an Adam step, on random features of the median shapes."""
    import torch
    from ugaar_kit_plugins.audio_cnn.encoder import AudioCNN
    from ugaar_kit_plugins.sheet_cnn.encoder import SheetCNN

    from ugaar_kit.interfaces.encoder import Batch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    encoders = {"audio": AudioCNN.from_options({"arch": arch}), "sheet": SheetCNN.from_options({"arch": arch})}
    params = [p for e in encoders.values() for p in e.parameters()]
    opt = torch.optim.Adam(params)
    inputs = {
        m: Batch(torch.randn(batch, *shape), torch.ones(batch, shape[1], dtype=torch.bool))
        for m, shape in THROUGHPUT_SHAPES.items()
    }

    def step() -> None:
        z = {m: encoders[m](b) for m, b in inputs.items()}
        loss = (torch.nn.functional.normalize(z["audio"]) @ torch.nn.functional.normalize(z["sheet"]).T).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    median, _ = best_of(step, steps, warmup=2)
    return {"s_per_step": median, "samples_per_s": batch / median, "parameters": float(sum(p.numel() for p in params))}


def conv_block_gflops(threads: int, steps: int) -> float:
    """GFLOP/s of forward + backward of one 3x3 conv (64 -> 64 channels, 40 x 128, batch 32, BN, ReLU,
    channels-last): the machine's rate on the encoders' kind of work."""
    import torch

    torch.set_num_threads(threads)
    block = torch.nn.Sequential(
        torch.nn.Conv2d(64, 64, 3, padding=1, bias=False), torch.nn.BatchNorm2d(64), torch.nn.ReLU()
    ).to(memory_format=torch.channels_last)
    x = torch.randn(32, 64, 40, 128).contiguous(memory_format=torch.channels_last).requires_grad_(True)

    def step() -> None:
        block(x).sum().backward()

    median, _ = best_of(step, steps, warmup=2)
    flops = 3 * 2 * 32 * 64 * 64 * 9 * 40 * 128  # forward + twice for backward (input and weight grads)
    return flops / median / 1e9


def section_throughput(args: argparse.Namespace) -> dict[str, Any]:
    rows, data = [], []
    batch = 64
    for threads in (1, 2):
        gflops = conv_block_gflops(threads, args.steps)
        for arch in ("strided", "vgg"):
            r = pair_rate(arch, threads, batch, args.steps)
            data.append({"arch": arch, "threads": threads, "batch": batch, "conv_gflops": gflops, **r})
            rows.append(
                [
                    f"{arch}{' (default)' if arch == 'strided' else ' (before 0.2)'}",
                    threads,
                    f"{r['parameters'] / 1e6:.2f} M",
                    fmt(r["s_per_step"]),
                    fmt(r["samples_per_s"]),
                    fmt(gflops),
                ]
            )
    ratio = {t: next(d for d in data if d["threads"] == t and d["arch"] == "strided")["samples_per_s"] for t in (1, 2)}
    old = {t: next(d for d in data if d["threads"] == t and d["arch"] == "vgg")["samples_per_s"] for t in (1, 2)}
    notes = [
        f"The audio `cnn` and sheet `cnn` at their defaults but `arch`, trained together: forward of a batch of {batch} "
        f"random features of the median LMD passage (log-mel {THROUGHPUT_SHAPES['audio'][0]} x "
        f"{THROUGHPUT_SHAPES['audio'][1]} frames, a {THROUGHPUT_SHAPES['sheet'][0]} x {THROUGHPUT_SHAPES['sheet'][1]}-px "
        f"snippet), a loss on both outputs, backward and an Adam step; median of {args.steps} steps after two warm-ups.",
        f"strided / vgg samples/s: {ratio[1] / old[1]:.1f}x on 1 thread, {ratio[2] / old[2]:.1f}x on 2.",
        "conv GFLOP/s: forward + backward of one 3x3 conv block (64 -> 64 channels, 40 x 128 positions, batch 32, "
        "BatchNorm, ReLU, channels-last), the anchor of what the machine does with this kind of work.",
    ]
    columns = ["body", "threads", "parameters", "s/step", "samples/s", "conv GFLOP/s"]
    return record("throughput", columns, rows, notes, data)


def section_dcca(args: argparse.Namespace) -> dict[str, Any]:
    """Deep-CCA loss forward+backward, ours against cca_zoo's, on correlated random views."""
    import torch
    from ugaar_kit_plugins.objective_dcca.objective import DeepCCA

    try:
        import cca_zoo
        from cca_zoo.deep.objectives import CCALoss
    except ImportError:
        cca_zoo = None
    rows, data = [], []
    for batch, dim in ((256, 32), (1024, 128), (4096, 128)):
        torch.manual_seed(0)
        latent = torch.randn(batch, dim)
        views = {m: (latent + torch.randn(batch, dim)).requires_grad_() for m in ("audio", "sheet")}
        ours = DeepCCA.from_options({}, {m: dim for m in views})

        def run_ours(ours: Any = ours, views: dict = views) -> float:
            for v in views.values():
                v.grad = None
            out = ours.loss(views)["objective"]
            out.backward()
            return float(out.detach())

        t_ours, _ = best_of(run_ours, args.repeats)
        value_ours = run_ours()
        row: dict[str, Any] = {"batch": batch, "dim": dim, "ours_ms": 1000 * t_ours, "ours_value": value_ours}
        if cca_zoo is not None:
            theirs = CCALoss()

            def run_theirs(theirs: Any = theirs, views: dict = views) -> float:
                for v in views.values():
                    v.grad = None
                out = theirs([views["audio"], views["sheet"]])
                out.backward()
                return float(out.detach())

            t_theirs, _ = best_of(run_theirs, args.repeats)
            row.update({"theirs_ms": 1000 * t_theirs, "theirs_value": run_theirs()})
            # the same correlations through both: ours sums rho, cca_zoo's sums rho^2
            with torch.no_grad():
                rho = canonical_correlations(views["audio"].double(), views["sheet"].double(), 1e-3)
            row.update({"sum_rho": float(rho.sum()), "sum_rho2": float((rho**2).sum())})
        data.append(row)
        shown = [f"{batch} x {dim}", f"{row['ours_ms']:.1f}", f"{value_ours:.2f}"]
        if "theirs_ms" in row:
            shown += [
                f"{row['theirs_ms']:.1f}",
                f"{row['theirs_value']:.2f}",
                f"{row['ours_ms'] / row['theirs_ms']:.2f}",
            ]
        else:
            shown += ["–", "–", "–"]
        rows.append(shown)
    notes = [
        "Loss forward+backward on two float32 views (latent + noise), median of repeats, "
        f"{args.threads} torch thread(s). Ours whitens in float64 with a ridge of 1e-3 and returns minus the total "
        "canonical correlation (Andrew et al.); cca_zoo's `CCALoss` works in the input dtype with a ridge of 1e-6 and "
        "returns minus the sum of *squared* correlations.",
    ]
    if cca_zoo is None:
        notes.append("cca_zoo is not installed: only our loss was timed (pip install cca-zoo, the bench extra).")
    else:
        last = data[1]
        notes.append(
            f"At {last['batch']} x {last['dim']} the canonical correlations sum to {last['sum_rho']:.2f} (squares: "
            f"{last['sum_rho2']:.2f}); the two losses return {last['ours_value']:.2f} and {last['theirs_value']:.2f} (cca_zoo "
            f"{cca_zoo.__version__})."
        )
    columns = ["batch x dim", "ours ms", "ours value", "cca_zoo ms", "cca_zoo value", "time ratio ours/cca_zoo"]
    return record("dcca", columns, rows, notes, data)


def canonical_correlations(a: Any, b: Any, ridge: float) -> Any:
    """The canonical correlations `(dim,)` of `a` and `b` `(N, dim)` with a ridge on each covariance."""
    import torch

    a = a - a.mean(0)
    b = b - b.mean(0)
    n = a.shape[0] - 1
    eye = torch.eye(a.shape[1], dtype=a.dtype)
    saa, sbb, sab = a.T @ a / n + ridge * eye, b.T @ b / n + ridge * eye, a.T @ b / n

    def inv_sqrt(s: Any) -> Any:
        w, v = torch.linalg.eigh(s)
        return v @ torch.diag(w.clamp_min(1e-12).rsqrt()) @ v.T

    return torch.linalg.svdvals(inv_sqrt(saa) @ sab @ inv_sqrt(sbb))


# -- audio front end ---------------------------------------------------------------------
def section_frontend(args: argparse.Namespace) -> dict[str, Any]:
    """Decode + log-mel of dataset WAVs: the audio `cnn` encoder's front end against librosa."""
    import numpy as np
    import torch

    from ugaar_kit.interfaces.dataset import DatasetFolder
    from ugaar_kit.registry.discovery import get_registry

    enc = get_registry().encoder("audio", "cnn")()
    o = enc.options
    paths = [it.audio for it in DatasetFolder(dataset(args)).items if it.audio is not None][: args.clips]
    import soundfile

    seconds = sum(soundfile.info(str(p)).duration for p in paths)

    def ours() -> list[Any]:
        return [enc.featurize(enc.load_item(p)) for p in paths]

    def ours_mel_only(waves: list[Any]) -> Callable[[], list[Any]]:
        return lambda: [enc.featurize(w) for w in waves]

    waves = [enc.load_item(p) for p in paths]
    t_ours, _ = best_of(ours, 3)
    t_ours_mel, _ = best_of(ours_mel_only(waves), 3)
    rows = [
        ["ours: soundfile + torchaudio log-mel", f"{t_ours:.2f}", fmt(seconds / t_ours), fmt(len(paths) / t_ours), ""],
        [
            "ours: log-mel only (decoded)",
            f"{t_ours_mel:.2f}",
            fmt(seconds / t_ours_mel),
            fmt(len(paths) / t_ours_mel),
            "",
        ],
    ]
    data: dict[str, Any] = {"clips": len(paths), "audio_seconds": seconds, "ours_s": t_ours, "ours_mel_s": t_ours_mel}
    notes = [
        f"{len(paths)} dataset passages ({seconds / len(paths):.1f} s each on average, WAV at {o.sample_rate} Hz), one clip "
        f"at a time, {args.threads} torch thread(s), median of 3 passes after a warm-up. Both sides compute {o.n_mels} mel "
        f"bands (HTK scale, no filter norm) of the power spectrum, n_fft {o.n_fft}, hop {o.hop}, {o.f_min:g}-{o.f_max:g} Hz, "
        "dB with an 80 dB floor below the peak, then standardise each clip.",
    ]
    try:
        import librosa
    except ImportError:
        notes.append("librosa is not installed: pip install librosa (the bench extra) to compare.")
        return record("frontend", ["front end", "seconds", "audio s/s", "clips/s", "ratio to ours"], rows, notes, data)

    def lib_features(y: Any) -> Any:
        s = librosa.feature.melspectrogram(
            y=y,
            sr=o.sample_rate,
            n_fft=o.n_fft,
            hop_length=o.hop,
            n_mels=o.n_mels,
            fmin=o.f_min,
            fmax=o.f_max,
            power=2.0,
            htk=True,
            norm=None,
            center=True,
            pad_mode="constant",
        )
        db = librosa.power_to_db(s, ref=1.0, amin=1e-10, top_db=80.0)
        return (db - db.mean()) / max(float(db.std()), 1e-3)

    def theirs() -> list[Any]:
        return [lib_features(librosa.load(str(p), sr=o.sample_rate, mono=True)[0]) for p in paths]

    np_waves = [w.numpy() for w in waves]
    t_lib, _ = best_of(theirs, 3)
    t_lib_mel, _ = best_of(lambda: [lib_features(w) for w in np_waves], 3)
    mine = ours()
    diff = max(float(np.abs(m.numpy() - lib_features(w)).max()) for m, w in zip(mine, np_waves))
    rows[0][-1] = rows[1][-1] = "1"
    rows.append(
        [
            "librosa: load + melspectrogram",
            f"{t_lib:.2f}",
            fmt(seconds / t_lib),
            fmt(len(paths) / t_lib),
            f"{t_lib / t_ours:.2f}",
        ]
    )
    rows.append(
        [
            "librosa: log-mel only (decoded)",
            f"{t_lib_mel:.2f}",
            fmt(seconds / t_lib_mel),
            fmt(len(paths) / t_lib_mel),
            f"{t_lib_mel / t_ours_mel:.2f}",
        ]
    )
    notes.append(
        f"Largest difference between the two standardised spectrograms over all clips: {diff:.2g} (in units of each "
        f"clip's standard deviation). librosa {librosa.__version__}. Ratio: librosa's time over ours (above 1: ours is faster)."
    )
    data.update({"librosa_s": t_lib, "librosa_mel_s": t_lib_mel, "max_abs_diff": diff, "librosa": librosa.__version__})
    del torch
    return record(
        "frontend", ["front end", "seconds", "audio s/s", "clips/s", "librosa time / ours"], rows, notes, data
    )


# -- embed -------------------------------------------------------------------------------
def link_files(items: Sequence[Any], n: int, out: Path) -> float:
    """Hard links (copies across file systems) to the audio and sheet files of the first items,
    `n` files in all; returns the seconds of audio linked."""
    import soundfile

    seconds, count = 0.0, 0
    for it in items:
        for src in (it.audio, it.sheet):
            if src is None or count >= n:
                continue
            dst = out / src.parent.name / src.name.replace(".", f"-{src.parent.parent.name}.", 1)
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)
            if src == it.audio:
                seconds += soundfile.info(str(src)).duration
            count += 1
        if count >= n:
            break
    if count < n:
        raise SystemExit(f"the dataset has only {count} audio and sheet files, {n} asked for")
    return seconds


def section_embed(args: argparse.Namespace) -> dict[str, Any]:
    """`embed` of 1k and 10k dataset files (half passages' audio, half their sheet snippets) in a
    child process, beside the encoders alone (featurize and forward) over the same files' rows,
    decoded beforehand: files/s, audio s/s, the ratio, peak memory; each pass `--embed-repeats`
    times, the two in turn."""
    import statistics as stats

    import embed as embed_bench

    from ugaar_kit.interfaces.dataset import DatasetFolder

    data = dataset(args)
    items = DatasetFolder(data).items
    rows, records = [], []
    with tempfile.TemporaryDirectory(prefix="bench-embed-") as tmp:
        run, _ = search_run(args, Path(tmp))
        for n in args.embed_files:
            folder = Path(tmp) / f"files{n}"
            audio = link_files(items, n, folder)
            passes, forwards = [], []
            for k in range(args.embed_repeats):
                store = Path(tmp) / f"emb{n}-{k}.h5"
                passes.append(embed_bench.embed_pass(run, folder, store, args.embed_workers, 64, real=True))
                forwards.append(embed_bench.forward_pass(run, folder, 64))
                store_mib = store.stat().st_size / 2**20
                store.unlink()
            ratios = [(f["seconds"] / r["seconds"]) for r, f in zip(passes, forwards)]  # same files: rates' ratio
            r = sorted(passes, key=lambda p: p["seconds"])[len(passes) // 2]
            f = sorted(forwards, key=lambda p: p["seconds"])[len(forwards) // 2]
            r.update({"n": n, "audio_linked": audio, "store_mib": store_mib, "forward": f, "ratios": ratios})
            records.append(r)
            rows.append(
                [
                    f"{n:,}",
                    f"{r['seconds']:.1f}",
                    *embed_rate_cells(r),
                    fmt(f["files"] / f["seconds"]),
                    fmt(f["audio_seconds"] / f["seconds"]),
                    f"{stats.median(ratios):.2f}",
                    f"{store_mib:.1f}",
                ]
            )
        writer = embed_bench.writer_alone(args.writer_rows, 128, 4, 256, Path(tmp)) if args.writer_rows else None
    flat = records[-1]["rss_peak_mb"] / records[0]["rss_peak_mb"] - 1 if len(records) > 1 else 0.0
    notes = [
        f"Half audio (FLAC passages, {records[0]['audio_linked'] / max(1, records[0]['n'] // 2):.1f} s each on "
        f"average), half sheet PNGs of the quality dataset, embedded by `embed_paths` in a child process with "
        f"{args.embed_workers} loader worker(s) (the default on 2 cores), batch 64, one torch thread, with an untrained "
        "run of the default encoders (audio `cnn`, sheet `cnn`, trained for 0 epochs on the demo data; speed does "
        "not depend on training). Peak memory is the largest resident set (ru_maxrss) of the main process, and of "
        f"its loader workers; the main process's peak at {records[-1]['n']:,} files is {100 * flat:+.0f}% of its peak "
        f"at {records[0]['n']:,}. Medians of {args.embed_repeats} passes.",
        "Encoders alone: the same files' rows (the windows and snippets `embed` makes), decoded first (not timed), "
        "then `featurize` and the forward pass with the projection, one torch thread, batches of 64 sorted by length, "
        "in one process: the speed of the model. Ratio: `embed`'s files/s over it, the median of the passes paired "
        "in turn.",
    ]
    if writer is not None:
        notes.append(
            f"The store writer alone (benchmarks/embed.py): {writer['rows']:,} rows of 128 float32 (4 rows a file, 256 "
            f"rows a commit) in {writer['seconds']:.1f} s, {writer['rows'] / writer['seconds']:,.0f} rows/s, "
            f"{writer['mib']:.0f} MiB on disk."
        )
    columns = [
        "files",
        "seconds",
        "files/s",
        "audio s/s",
        "peak MiB",
        "worker peak MiB",
        "encoders alone files/s",
        "encoders alone audio s/s",
        "ratio",
        "store MiB",
    ]
    return record("embed", columns, rows, notes, {"passes": records, "writer": writer})


def embed_rate_cells(r: dict[str, Any]) -> list[str]:
    """An embed pass's files/s, audio s/s, peak MiB and loader-worker peak MiB, as table cells."""
    return [
        fmt(r["files"] / r["seconds"]),
        fmt(r["audio_seconds"] / r["seconds"]),
        f"{r['rss_peak_mb']:.0f}",
        f"{r['worker_peak_mb']:.0f}",
    ]


def section_pipeline(args: argparse.Namespace) -> dict[str, Any]:
    """benchmarks/embed.py's figures: `embed` of generated files with the tests' fake encoders, so
    the pipeline (walk, decode, windows, batching, journal, store) alone, per loader-worker count."""
    import embed as embed_bench

    from ugaar_kit.testing.runs import write_run

    rows, records = [], []
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        root = Path(tmp)
        run = write_run(root / "run")
        for n in args.pipeline_files:
            data = root / f"files{n}"
            audio = embed_bench.write_files(data, n)
            data_mib = sum(p.stat().st_size for p in data.rglob("*") if p.is_file()) / 2**20
            for workers in args.pipeline_workers:
                out = root / f"emb{n}-{workers}.h5"
                r = embed_bench.embed_pass(run, data, out, workers, 64)
                r.update(
                    {
                        "n": n,
                        "workers": workers,
                        "data_mib": data_mib,
                        "audio_written": audio,
                        "store_mib": out.stat().st_size / 2**20,
                    }
                )
                records.append(r)
                rows.append(
                    [
                        f"{n:,}",
                        str(workers),
                        f"{r['seconds']:.1f}",
                        *embed_rate_cells(r),
                        f"{r['rows']:,}",
                    ]
                )
                out.unlink()
            shutil.rmtree(data)
    first = records[0]
    notes = [
        "Generated files (benchmarks/embed.py): 60% WAV at 22.05 kHz lasting 3 to 30 s (embedded as 5 s windows at "
        "8 kHz), 20% PNG, 20% lyrics of 4 lines; "
        + "; ".join(
            f"{r['n']:,} files are {r['data_mib']:,.0f} MiB and {r['audio_seconds'] / 3600:.1f} h of audio"
            for r in records
            if r["workers"] == records[0]["workers"]
        )
        + ". Embedded by `embed_paths` in a child process with the tests' fake run (ugaar_kit.testing's store parts: tiny "
        "encoders), batch 64, one torch thread: the cost of the pipeline without a real model's forward pass (the "
        "table above measures it with the real encoders). Peak memory is the largest resident set (ru_maxrss) of the "
        f"process (about {first['rss_before_mb']:.0f} MiB of it Python, torch and the run before the first file), and "
        "of its loader workers.",
    ]
    columns = ["files", "workers", "seconds", "files/s", "audio s/s", "peak MiB", "worker peak MiB", "rows"]
    return record("pipeline", columns, rows, notes, records)


# -- search ------------------------------------------------------------------------------
def cycling(queries: Any) -> Callable[[Callable[[Any], Any]], Callable[[], Any]]:
    """`one(fn)`: a call of `fn` on the next query `(1, D)` of `queries` each time, in turn."""
    counter = iter(range(10**12))

    def one(fn: Callable[[Any], Any]) -> Callable[[], Any]:
        return lambda: fn(queries[next(counter) % len(queries)][None])

    return one


ANCHOR = "anchor: rows normalised once, in memory: one matmul + argpartition"


def section_search(args: argparse.Namespace) -> dict[str, Any]:
    """Exact top-10 cosine search of a store's unit rows (memory-mapped) against the anchor (a
    matmul + argpartition over rows normalised once), the 0.1.0 way (every row normalised at
    every call) and faiss's flat index; a batch of queries; and at the largest size the whole
    `ugaar-kit search` command beside `ugaar-kit --version`, with its parts."""
    import numpy as np

    from ugaar_kit.retrieval.search import normalize_rows, top_k
    from ugaar_kit.store.reader import Store

    dim, k = args.dim, 10
    rng = np.random.default_rng(0)
    rows, data, notes = [], [], []
    try:
        import faiss  # type: ignore[import-not-found]
    except ImportError:
        faiss = None
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        for n in args.search_rows:
            stored = rng.standard_normal((n, dim), dtype=np.float32)
            queries = rng.standard_normal((args.queries, dim), dtype=np.float32)
            path = Path(tmp) / f"rows{n}.h5"
            write_store(path, stored)
            one = cycling(queries)
            unit = normalize_rows(stored)

            def anchor(q: np.ndarray, unit: np.ndarray = unit) -> Any:
                scores = normalize_rows(q) @ unit.T
                return np.argpartition(-scores, k - 1, axis=1)[:, :k]

            with Store(path) as store:
                mapped = store.unit("audio")
                assert mapped is not None, "the store writer wrote no unit rows"
                cases: list[tuple[str, Callable[[], Any]]] = [
                    (ANCHOR, one(anchor)),
                    (
                        "top_k over the store's unit rows, memory-mapped",
                        one(lambda q, u=mapped: top_k(q, u, k, unit=True)),
                    ),
                    ("0.1.0: top_k normalising every row per call, in memory", one(lambda q, s=stored: top_k(q, s, k))),
                    (
                        "0.1.0: top_k normalising every row per call, from HDF5",
                        one(lambda q, ds=store.embeddings("audio"): top_k(q, ds, k)),
                    ),
                ]
                if faiss is not None:
                    index = faiss.IndexFlatIP(dim)
                    index.add(unit)
                    cases.append(("faiss IndexFlatIP", one(lambda q, index=index: index.search(normalize_rows(q), k))))
                reps = max(5, min(args.queries, int(2e7 / n)))
                base = None
                for label, fn in cases:
                    t, _ = best_of(fn, reps, warmup=2)
                    base = base or t
                    rows.append([f"{n:,}", label, f"{1000 * t:.2f}", f"{t / base:.2f}"])
                    data.append({"rows": n, "case": label, "ms_per_query": 1000 * t, "repeats": reps})
                batch = queries[: args.queries]
                t, _ = best_of(lambda b=batch, u=mapped: top_k(b, u, k, unit=True), 3)
                label = f"top_k over the unit rows, {len(batch)} queries at once, per query"
                rows.append([f"{n:,}", label, f"{1000 * t / len(batch):.3f}", f"{t / len(batch) / base:.2f}"])
                data.append(
                    {"rows": n, "case": "batched", "ms_per_query": 1000 * t / len(batch), "queries": len(batch)}
                )
            if n == max(args.search_rows) and args.search_cli:
                cli_rows, cli_data, cli_notes = search_cli(args, Path(tmp), stored.shape[0])
                rows += cli_rows
                data += cli_data
                notes += cli_notes
            path.unlink()
    notes = [
        f"Top {k} by cosine over float32 rows of {dim} dimensions, one query at a time (median over repeats), "
        f"NumPy with {blas_threads()}, torch with {torch_threads()}. Ratio: time over the anchor of the same size, "
        "measured in the same run on the same rows.",
        "The store's rows are written by the store writer, which keeps a unit-length copy (`unit`) that `top_k` reads "
        "through a memory map; the 0.1.0 rows normalise every stored row at every call.",
        "faiss is not installed: no faiss rows (pip install 'ugaar-kit[faiss]')."
        if faiss is None
        else "faiss flat index: exact inner product.",
        *notes,
    ]
    return record("search", ["stored rows", "method", "ms/query", "ratio"], rows, notes, data, right_from=2)


def torch_threads() -> str:
    import torch

    return f"{torch.get_num_threads()} thread(s)"


SEARCH_PARTS = """
import json, sys, time
t = time.perf_counter()
import torch
t0 = time.perf_counter()
from ugaar_kit.registry.discovery import get_registry
from ugaar_kit.inference.run import Run
from ugaar_kit.inference.embedding import embed_query
from ugaar_kit.retrieval.search import search_many
from ugaar_kit.store.reader import Store
registry = get_registry()
t1 = time.perf_counter()
run = Run.load(sys.argv[1], registry=registry)
t2 = time.perf_counter()
modality, vector = embed_query(run, sys.argv[3])
t3 = time.perf_counter()
with Store(sys.argv[2]) as store:
    hits = search_many(store, vector[None], ["audio"], 10)
t4 = time.perf_counter()
print(json.dumps({"importing torch": t0 - t, "imports and plugin discovery": t1 - t0, "Run.load (the model)": t2 - t1,
                  "the query's embedding": t3 - t2, "store opened and searched": t4 - t3}))
"""


def search_cli(args: argparse.Namespace, tmp: Path, n: int) -> tuple[list[list[str]], list[dict[str, Any]], list[str]]:
    """`ugaar-kit search` on a store of `n` rows of a run's width against `ugaar-kit --version`
    (both whole processes, median of `--cli-repeats` after one warm-up), and its parts timed in
    one more process."""
    import numpy as np

    from ugaar_kit.inference.run import Run
    from ugaar_kit.registry.discovery import get_registry

    run_dir, query = search_run(args, tmp)
    run = Run.load(run_dir, registry=get_registry())
    compiled = compile_project()
    store = tmp / f"cli{n}.h5"
    rows = np.random.default_rng(1).standard_normal((n, run.shared_dim), dtype=np.float32)
    write_store(store, rows, run_id=run.run_id)
    exe = str(Path(sys.executable).with_name("ugaar-kit"))
    version = [exe, "--version"]
    torch_import = [sys.executable, "-c", "import torch"]
    search = [exe, "search", str(query), "--index", str(store), "--run", str(run_dir), "--target", "audio", "--json"]
    times = {}
    commands = (
        ("ugaar-kit --version", version),
        ("python -c 'import torch'", torch_import),
        ("ugaar-kit search, one query", search),
    )
    for label, cmd in commands:
        subprocess.run(cmd, check=True, capture_output=True)
        samples = []
        for _ in range(args.cli_repeats):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            samples.append(time.perf_counter() - t0)
        times[label] = statistics.median(samples)
    parts = json.loads(
        subprocess.run(
            [sys.executable, "-c", SEARCH_PARTS, str(run_dir), str(store), str(query)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    base = times["ugaar-kit --version"]
    out = [[f"{n:,}", label, f"{1000 * t:.0f}", f"{t / base:.2f}"] for label, t in times.items()]
    search_s = times["ugaar-kit search, one query"]
    out.append([f"{n:,}", "search minus --version", f"{1000 * (search_s - base):.0f}", ""])
    torch_s = times["python -c 'import torch'"]
    out.append([f"{n:,}", "search minus `import torch`", f"{1000 * (search_s - torch_s):.0f}", ""])
    out += [[f"{n:,}", f"  part: {label}", f"{1000 * t:.0f}", ""] for label, t in parts.items()]
    data = [{"rows": n, "case": label, "ms": 1000 * t} for label, t in {**times, **parts}.items()]
    notes = [
        f"The command rows are whole processes (ms, not per query; ratio over `--version`), median of {args.cli_repeats} "
        f"after a warm-up, on a store of {n:,} rows of the run's {run.shared_dim} dimensions; the query is one "
        f"recording of the demo data, the run untrained ({run_dir.name}: the speed of a trained one). The parts are "
        "timed inside one more process. `--version` imports no model library since 0.2 (plugins register each kind "
        "when it is first needed), so every command that loads a model pays for importing torch beyond it: the "
        "row 'search minus `import torch`' is what the search itself adds.",
        f"The project's modules were compiled to bytecode first ({compiled}), as pip does when it installs a wheel "
        "and Python does at a first import; this machine sets PYTHONDONTWRITEBYTECODE, under which every command "
        "compiled them from source (about 60 ms of `--version` alone).",
    ]
    return out, data, notes


def compile_project() -> str:
    """Compile ugaar_kit and the built-in plugins to bytecode (`__pycache__`, ignored by git), as
    an installed package has them; what was compiled."""
    import compileall

    root = Path(__file__).resolve().parent.parent
    folders = [root / "ugaar_kit", root / "plugins"]
    for folder in folders:
        compileall.compile_dir(str(folder), quiet=1)
    return ", ".join(f.name for f in folders)


def search_run(args: argparse.Namespace, tmp: Path) -> tuple[Path, Path]:
    """(`--run`, else an untrained audio-sheet run on the demo data built here; a query recording)."""
    from ugaar_kit.interfaces.dataset import DatasetFolder

    data = tmp / "demo-data"
    subprocess.run(
        [sys.executable, "-m", "ugaar_kit", "dataset", "demo", "--out", str(data)], check=True, capture_output=True
    )
    query = next(it.audio for it in DatasetFolder(data).items if it.audio is not None)
    if args.run is not None:
        return args.run, query
    run_dir = tmp / "search-run"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ugaar_kit",
            "train",
            "--data",
            str(data),
            "--out",
            str(run_dir),
            "--audio",
            "cnn",
            "--sheet",
            "cnn",
            "--objective",
            "contrastive",
            "--epochs",
            "0",
        ],
        check=True,
        capture_output=True,
    )
    return run_dir, query


# -- long recordings ------------------------------------------------------------------------
PEAK = """
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(json.dumps([resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t0]))
"""


def peak_and_seconds(cmd: Sequence[object]) -> tuple[float, float]:
    """(peak resident MiB, wall seconds) of one command, measured from a process of its own."""
    out = subprocess.run([sys.executable, "-c", PEAK, *map(str, cmd)], check=True, capture_output=True, text=True)
    kib, seconds = json.loads(out.stdout)
    return kib / 1024, seconds


def write_noise(path: Path, seconds: float, rate: int = 22050) -> float:
    """A mono 16-bit WAV of `seconds` of noise, written a minute at a time; its size in MB."""
    import numpy as np
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    with soundfile.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16") as fh:
        left = int(seconds * rate)
        while left > 0:
            n = min(left, 60 * rate)
            fh.write((0.1 * rng.standard_normal(n)).astype(np.float32))
            left -= n
    return path.stat().st_size / 1e6


def section_long(args: argparse.Namespace) -> dict[str, Any]:
    """A `--long-hours`-hour recording through `embed` and `search` (one process, `--workers 0`)
    with a run of the default `cnn` audio encoder: peak memory and seconds beside the same
    commands on a 10-second recording, whose peak is the loaded model's."""
    rows, data = [], []
    with tempfile.TemporaryDirectory(prefix="bench-long-") as tmp_name:
        tmp = Path(tmp_name)
        run_dir, _ = search_run(args, tmp)
        exe = str(Path(sys.executable).with_name("ugaar-kit"))
        sizes = {
            "10 s": write_noise(tmp / "short" / "ten.wav", 10.0),
            f"{args.long_hours:g} h": write_noise(tmp / "long" / "hours.wav", 3600.0 * args.long_hours),
        }
        base: dict[str, float] = {}
        for (label, mb), folder in zip(sizes.items(), ("short", "long")):
            store = tmp / f"{folder}.h5"
            embed = [exe, "embed", tmp / folder, "--run", run_dir, "--out", store, "--workers", "0"]
            query = tmp / folder / ("ten.wav" if folder == "short" else "hours.wav")
            search = [
                exe,
                "search",
                query,
                "--index",
                tmp / "short.h5",
                "--run",
                run_dir,
                "--target",
                "audio",
                "--json",
            ]
            for command, cmd in (("embed", embed), ("search", search)):
                peak, seconds = peak_and_seconds(cmd)
                base.setdefault(command, peak)
                above = peak - base[command]
                rows.append([command, f"{label} ({mb:,.0f} MB WAV)", f"{seconds:.1f}", f"{peak:,.0f}", f"{above:,.0f}"])
                data.append(
                    {"command": command, "recording": label, "seconds": seconds, "peak_mib": peak, "above_mib": above}
                )
    notes = [
        "Generated noise, 22,050 Hz mono 16-bit WAV; the run is an untrained contrastive audio-sheet run of the "
        "default `cnn` encoders on the demo data (the speed and memory of a trained one). `embed` cuts 5-s windows "
        "every 2.5 s; `search` makes every window of the query one query (the 10-s store as the index).",
        "Peak: the process's maximum resident memory (one process: `--workers 0`); 'above' is over the same command "
        "on the 10-s recording, i.e. over the loaded model. Before 0.2 a recording was decoded and resampled whole: "
        "10 hours peaked at 10.4 GB in `embed` (measured when issue 20 was filed, not in this run).",
    ]
    return record(
        "long", ["command", "recording", "seconds", "peak MiB", "above 10 s MiB"], rows, notes, data, right_from=2
    )


# -- index -------------------------------------------------------------------------------
def synthetic_rows(kind: str, n: int, dim: int, rng: Any) -> Any:
    """`n` float32 rows: `clustered` (1,000 Gaussian clusters, spread 0.3 around N(0, 1) centres:
    embeddings of similar items) or `unstructured` (N(0, 1): the worst case for an IVF index)."""
    import numpy as np

    if kind == "unstructured":
        return rng.standard_normal((n, dim), dtype=np.float32)
    centres = np.random.default_rng(12345).standard_normal((1000, dim), dtype=np.float32)
    return centres[rng.integers(0, len(centres), n)] + np.float32(0.3) * rng.standard_normal((n, dim), dtype=np.float32)


def write_store(path: Path, rows: Any, rows_per_file: int = 4, run_id: str = "bench") -> None:
    """`rows` through the store writer as audio files of `rows_per_file` windows each."""
    from ugaar_kit.store.tables import FileRows
    from ugaar_kit.store.writer import StoreWriter

    with StoreWriter(path, run_id=run_id, settings={"window": 5.0, "hop": 2.5}) as w:
        step = 256 * rows_per_file
        for a in range(0, len(rows), step):
            w.add_files(
                "audio",
                [
                    FileRows(
                        f"f{i:08d}.wav",
                        1000,
                        1.0,
                        [f"f{i:08d}.wav#t={k}" for k in range(len(rows[i : i + rows_per_file]))],
                        rows[i : i + rows_per_file],
                        [2.5 * k for k in range(len(rows[i : i + rows_per_file]))],
                        [2.5 * k + 5.0 for k in range(len(rows[i : i + rows_per_file]))],
                    )
                    for i in range(a, min(len(rows), a + step), rows_per_file)
                ],
            )


def recall_at(exact: Any, approx: Any) -> float:
    """Mean share of each exact top-k row list found in the approximate one."""
    import numpy as np

    return float(np.mean([len(set(e) & set(a)) / len(e) for e, a in zip(exact.tolist(), approx.tolist())]))


def section_index(args: argparse.Namespace) -> dict[str, Any]:
    """`ugaar-kit store index` on synthetic stores: build time, the recall@10 it reports, recall@10
    on held-out queries, and ms/query of search with the index against exact search."""
    import numpy as np

    try:
        import faiss  # type: ignore[import-not-found]
    except ImportError:
        raise SystemExit("the index section needs faiss: pip install 'ugaar-kit[faiss]'") from None
    from ugaar_kit.retrieval.search import top_k
    from ugaar_kit.store.index import build_index, load_index, search_index
    from ugaar_kit.store.reader import Store

    k, dim = 10, args.index_dim
    rows, data = [], []
    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
        for n in args.index_rows:
            for kind in ("clustered", "unstructured"):
                rng = np.random.default_rng(n)
                path = Path(tmp) / f"{kind}{n}.h5"
                write_store(path, synthetic_rows(kind, n, dim, rng))
                held_out = synthetic_rows(kind, args.queries, dim, rng)
                with Store(path) as store:
                    stored = store.unit("audio")
                    _, exact = top_k(held_out, stored, k, unit=True)
                    one = cycling(held_out)
                    t_exact, _ = best_of(
                        one(lambda q, stored=stored: top_k(q, stored, k, unit=True)), max(5, args.queries // 10)
                    )
                for nprobe in args.index_nprobe:
                    (report,) = build_index(path, nprobe=nprobe)
                    with Store(path) as store:
                        index = load_index(store, "audio")
                        _, approx = search_index(index, held_out, k)
                        recall = recall_at(exact, approx)
                        t_index, _ = best_of(one(lambda q, index=index: search_index(index, q, k)), args.queries)
                    file_mib = report.path.stat().st_size / 2**20
                    rows.append(
                        [
                            f"{n:,}",
                            kind,
                            report.kind,
                            f"{report.seconds:.1f}",
                            f"{report.recall_at_10:.3f}",
                            f"{recall:.3f}",
                            f"{1000 * t_index:.2f}",
                            f"{1000 * t_exact:.1f}",
                            f"{file_mib:.0f}",
                        ]
                    )
                    data.append(
                        {
                            "rows": n,
                            "dim": dim,
                            "data": kind,
                            "index": report.kind,
                            "nprobe": nprobe,
                            "build_seconds": report.seconds,
                            "recall_at_10_reported": report.recall_at_10,
                            "recall_queries": report.queries,
                            "recall_at_10_held_out": recall,
                            "held_out_queries": len(held_out),
                            "ms_per_query_index": 1000 * t_index,
                            "ms_per_query_exact": 1000 * t_exact,
                            "index_mib": file_mib,
                        }
                    )
                for p in Path(tmp).iterdir():
                    p.unlink()
    notes = [
        f"Stores of float32 rows {dim} wide (4 windows a file) indexed by `ugaar_kit.store.index.build_index`, as "
        "`ugaar-kit store index EMB.h5 [--nprobe N]` runs it (default nlist; the default nprobe is 16; faiss "
        f"{faiss.__version__} with {faiss.omp_get_max_threads()} OpenMP thread(s)). Build time includes training, "
        "adding, the recall check and saving. 'reported' is the recall@10 the command prints: 1,000 stored rows as "
        f"queries, each of which finds itself; 'held-out' uses {args.queries} new queries from the same distribution. "
        "Search times: one query at a time, median; exact is `ugaar_kit.retrieval.search.top_k` over the store's unit "
        "rows, memory-mapped, as `ugaar-kit search --exact` does.",
    ]
    columns = [
        "stored rows",
        "data",
        "index",
        "build s",
        "recall@10 reported",
        "recall@10 held-out",
        "ms/query index",
        "ms/query exact",
        "index MiB",
    ]
    return record("index", columns, rows, notes, data, right_from=3)


def blas_threads() -> str:
    """`openblas, 2 threads`: NumPy's BLAS and its thread count, as threadpoolctl sees them."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "its default BLAS threads"
    info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    pools = dict.fromkeys(f"{i['internal_api']} {i['num_threads']} thread(s)" for i in info)  # NumPy's, SciPy's, ...
    return ", ".join(pools) or "no BLAS pool found"


# -- the figures of the other benchmark scripts ------------------------------------------
def section_objectives(args: argparse.Namespace) -> dict[str, Any]:
    import objectives

    rows = objectives.measure(batch=1024, dim=128, threads=args.threads, repeats=args.repeats, items=10_000)
    notes = [
        f"benchmarks/objectives.py: loss forward+backward on random float32 views, median of {args.repeats} after a "
        f"warm-up, {args.threads} torch thread(s) (`{PYTHON} benchmarks/objectives.py` prints the same table).",
    ]
    return record(
        "objectives",
        ["case", "size", "ms"],
        [[n, s, f"{ms:.1f}"] for n, s, ms in rows],
        notes,
        [{"case": n, "size": s, "ms": ms} for n, s, ms in rows],
        right_from=2,
    )


def section_lyrics(args: argparse.Namespace) -> dict[str, Any]:
    import lyrics_encoders

    described, rows = lyrics_encoders.measure_all(n_lines=10_000, batch=32, threads=args.threads)
    notes = [
        f"benchmarks/lyrics_encoders.py on {described}; parameters (trainable / total), Doc2vec fit time, featurize "
        "items/s one at a time, forward items/s at batch 32 (eval, no gradient) and forward+backward items/s "
        f"(`{PYTHON} benchmarks/lyrics_encoders.py` prints the same table).",
    ]
    return record("lyrics", list(lyrics_encoders.HEADER), rows, notes, rows)


RUNNERS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "build": section_build,
    "train": section_train,
    "throughput": section_throughput,
    "dcca": section_dcca,
    "frontend": section_frontend,
    "embed": section_embed,
    "pipeline": section_pipeline,
    "search": section_search,
    "long": section_long,
    "index": section_index,
    "objectives": section_objectives,
    "lyrics": section_lyrics,
}
assert tuple(RUNNERS) == SECTIONS


@contextlib.contextmanager
def shared_caches(section: str, args: argparse.Namespace) -> Iterator[None]:
    """Hold quality.py's lock while a section trains on the dataset's own feature caches: HDF5
    refuses a cache another process has open."""
    import quality

    if section != "train" or args.cache_dir is not None:
        yield
        return
    with quality.exclusive(quality.QUALITY):
        yield


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", choices=SECTIONS, default=[], help="sections to run (default: all)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--data", type=Path, default=None, help="dataset folder (default: the quality benchmark's)")
    ap.add_argument("--songs", type=int, default=300, help="songs of the default dataset")
    ap.add_argument("--workers", type=int, default=None, help="feature-cache processes when a run is prepared")
    ap.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="feature caches of the train section (default: the dataset's, which quality.py must not be using)",
    )
    ap.add_argument("--build-songs", type=int, default=40, help="songs built by the build section")
    ap.add_argument("--build-repeats", type=int, default=3, help="builds timed per setting (the median is shown)")
    ap.add_argument("--steps", type=int, default=5, help="training steps timed per objective")
    ap.add_argument("--repeats", type=int, default=20, help="repeats of the loss timings")
    ap.add_argument("--clips", type=int, default=200, help="audio clips of the frontend section")
    ap.add_argument(
        "--run",
        type=Path,
        default=None,
        help="run folder of the embed, search and long sections (default: an untrained run)",
    )
    ap.add_argument("--embed-files", type=int, nargs="+", default=[1000, 10000], help="files embedded per pass")
    ap.add_argument("--embed-workers", type=int, default=2, help="loader workers of embed (the default on 2 cores)")
    ap.add_argument("--embed-repeats", type=int, default=3, help="embed passes per size (the median is shown)")
    ap.add_argument("--writer-rows", type=int, default=500_000, help="rows through the store writer alone (0: skip)")
    ap.add_argument(
        "--pipeline-files", type=int, nargs="+", default=[1000, 10000], help="generated files per pipeline pass"
    )
    ap.add_argument(
        "--pipeline-workers", type=int, nargs="+", default=[1, 2], help="loader workers of the pipeline passes"
    )
    ap.add_argument("--queries", type=int, default=100, help="queries of the search section")
    ap.add_argument("--dim", type=int, default=128, help="width of the stored rows in the search section")
    ap.add_argument(
        "--search-rows", type=int, nargs="+", default=[10**4, 10**5, 10**6], help="stored rows of the search section"
    )
    ap.add_argument(
        "--search-cli",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="time the whole `ugaar-kit search` command at the largest size (builds the demo data and a run)",
    )
    ap.add_argument("--long-hours", type=float, default=10.0, help="hours of the long section's recording")
    ap.add_argument("--cli-repeats", type=int, default=5, help="runs of each command timed by the search section")
    ap.add_argument(
        "--index-rows", type=int, nargs="+", default=[10**5, 10**6], help="stored rows of the index section"
    )
    ap.add_argument("--index-dim", type=int, default=16, help="width of the stored rows in the index section")
    ap.add_argument("--index-nprobe", type=int, nargs="+", default=[16, 64], help="nprobe values of the index section")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    for section in args.only or SECTIONS:
        print(f"{section}: running")
        t0 = time.perf_counter()
        with shared_caches(section, args):
            result = RUNNERS[section](args)
        result["seconds"] = round(time.perf_counter() - t0, 1)
        write_json(result, SPEED / f"{section}.json")
        print(f"{section}: {result['seconds']:.0f} s, written to {SPEED / f'{section}.json'}")
        for row in result["rows"]:
            print("  " + " | ".join(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
