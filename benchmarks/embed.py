"""Throughput and peak memory of `embed` with the tests' fake run (`ugaar_kit.testing`'s store parts).

    .venv/bin/python benchmarks/embed.py                      # 1,000 files, 1 worker process
    .venv/bin/python benchmarks/embed.py --files 4000 --workers 0

Writes a folder of files in a temporary directory (60% WAV at 22.05 kHz lasting 3 to 30 s, so
the encoder decodes, resamples to 8 kHz and cuts 5 s windows; 20% PNG; 20% lyrics of 4 lines),
embeds it in a child process, and prints files/s, audio seconds/s and the child's peak resident
memory (its own and its worker processes'), then the same for a re-run that finds everything
done. The fake encoders are tiny, so this measures the pipeline (walking, decoding, cutting,
batching, journal, store), not a real model. Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_files(root: Path, n: int, seed: int = 0) -> float:
    """`n` files under `root`; returns the seconds of audio written."""
    import numpy as np

    from ugaar_kit.testing.data import write_png, write_text, write_wav

    rng = np.random.default_rng(seed)
    seconds = 0.0
    for i in range(n):
        kind = i % 5
        folder = root / f"part{i // 200:02d}"
        if kind < 3:
            dur = float(rng.uniform(3, 30))
            write_wav(folder / f"{i:05d}.wav", dur, float(rng.uniform(150, 900)), rate=22050, seed=i)
            seconds += round(dur * 22050) / 22050
        elif kind == 3:
            write_png(folder / f"{i:05d}.png", int(rng.integers(200, 800)), seed=i)
        else:
            lines = [
                " ".join(rng.choice(["love", "baby", "tonight", "heart", "dancing", "forever"], 6)) for _ in range(4)
            ]
            write_text(folder / f"{i:05d}.txt", "\n".join(lines) + "\n")
    return seconds


def child(run_dir: str, data: str, out: str, workers: int, batch: int, real: bool = False) -> None:
    """Embed in this process and print a JSON line of figures (`real`: installed plugins, not
    the fake run's registry)."""
    import torch

    from ugaar_kit.inference.embedding import EmbedSettings, embed_paths
    from ugaar_kit.inference.run import Run

    torch.set_num_threads(1)
    if real:
        from ugaar_kit.registry.discovery import get_registry

        registry = get_registry()
    else:
        from ugaar_kit.testing.parts import registry as parts_registry

        registry = parts_registry("store")
    run = Run.load(run_dir, registry=registry)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    summary = embed_paths(run, [data], out, EmbedSettings(batch_size=batch, workers=workers))
    wall = time.perf_counter() - t0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps(
            {
                "files": summary.files,
                "already": summary.already,
                "rows": summary.rows,
                "audio_seconds": summary.audio_seconds,
                "seconds": wall,
                "rss_before_mb": before / 1024,
                "rss_peak_mb": own / 1024,
                "worker_peak_mb": kids / 1024,
            }
        )
    )


def forward_child(run_dir: str, data: str, batch: int) -> None:
    """The encoders alone over the rows `embed` makes of every file of `data`, read (decoded) first
    and not timed: `featurize` (log-mel, ink) then the forward pass with the projection into the
    shared space, in length-sorted batches, on this process's torch threads. Prints a JSON line:
    the seconds of each."""
    import torch

    from ugaar_kit.data.walk import Found, Walker
    from ugaar_kit.features.encode import device_of, encode_features
    from ugaar_kit.inference.embedding.settings import extension_routes, resolve_window
    from ugaar_kit.inference.run import Run
    from ugaar_kit.registry.discovery import get_registry

    torch.set_num_threads(1)
    run = Run.load(run_dir, registry=get_registry())
    window, hop = resolve_window(run, None, None)
    routes = extension_routes(run)
    files = [e for e in Walker([data], accept=lambda s: s in routes) if isinstance(e, Found)]
    raws: dict[str, list[object]] = {}
    audio_seconds = 0.0
    for f in files:
        m = routes[f.suffix]
        for rows in run.encoders[m].embed_parts(f.path, window, hop):
            raws.setdefault(m, []).extend(rows.raws)
            audio_seconds += rows.seconds
    t0 = time.perf_counter()
    with torch.no_grad():
        features = {m: [run.encoders[m].featurize(r) for r in rs] for m, rs in raws.items()}
    t1 = time.perf_counter()
    rows_done = 0
    for m, feats in features.items():
        enc = run.encoders[m]
        project = lambda z, m=m: run.objective.project(m, z)  # noqa: E731
        rows_done += len(encode_features(enc, feats, batch, device_of(enc), project))
    t2 = time.perf_counter()
    print(
        json.dumps(
            {
                "files": len(files),
                "rows": rows_done,
                "audio_seconds": audio_seconds,
                "featurize_seconds": t1 - t0,
                "forward_seconds": t2 - t1,
                "seconds": t2 - t0,
            }
        )
    )


def forward_pass(run_dir: Path, data: Path, batch: int) -> dict:
    """`forward_child` in a child process; its figures."""
    cmd = [sys.executable, __file__, "--batch-size", str(batch), "--forward", str(run_dir), str(data)]
    out_lines = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()
    return json.loads(out_lines[-1])


def embed_pass(run_dir: Path, data: Path, out: Path, workers: int, batch: int, real: bool = False) -> dict:
    """Embed `data` into the store `out` in a child process; its figures (see `child`)."""
    cmd = [sys.executable, __file__, "--workers", str(workers), "--batch-size", str(batch)]
    cmd += ["--real"] if real else []
    cmd += ["--child", str(run_dir), str(data), str(out)]
    out_lines = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()
    return json.loads(out_lines[-1])


def writer_alone(rows: int, dim: int, rows_per_file: int, batch: int, folder: Path) -> dict[str, float]:
    """Rows per second through the store writer alone (journal, folds, final fold), no model."""
    import numpy as np

    from ugaar_kit.store.tables import FileRows
    from ugaar_kit.store.writer import StoreWriter

    rng = np.random.default_rng(0)
    emb = rng.standard_normal((batch, dim)).astype(np.float32)
    t0 = time.perf_counter()
    written = 0
    with StoreWriter(folder / "writer.h5", run_id="bench", settings={"window": 5.0, "hop": 2.5}) as w:
        while written < rows:
            files = [
                FileRows(
                    f"f{written + i:08d}.wav",
                    1000,
                    1.0,
                    [f"f{written + i:08d}.wav#t={k}" for k in range(rows_per_file)],
                    emb[:rows_per_file],
                    [0.0] * rows_per_file,
                    [5.0] * rows_per_file,
                )
                for i in range(0, batch, rows_per_file)
            ]
            w.add_files("audio", files)
            written += batch
    wall = time.perf_counter() - t0
    return {"rows": written, "seconds": wall, "mib": (folder / "writer.h5").stat().st_size / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--writer-rows", type=int, default=500_000, help="rows for the store-writer-alone figure (0: skip)")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--real", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--forward", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.forward:
        forward_child(*args.forward, batch=args.batch_size)
        return
    if args.child:
        child(*args.child, workers=args.workers, batch=args.batch_size, real=args.real)
        return

    from rich.console import Console
    from rich.table import Table

    from ugaar_kit.testing.runs import write_run

    with tempfile.TemporaryDirectory(prefix="embed-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        audio = write_files(root / "data", args.files)
        made = time.perf_counter() - t0
        run_dir = write_run(root / "run")
        size = sum(p.stat().st_size for p in (root / "data").rglob("*") if p.is_file())
        table = Table(
            title=f"embed: {args.files} files ({size / 2**20:.0f} MiB, {audio / 3600:.2f} h of audio, written in {made:.0f} s), workers={args.workers}, batch={args.batch_size}"
        )
        for col in (
            "pass",
            "files",
            "rows",
            "seconds",
            "files/s",
            "audio s/s",
            "peak RSS MiB",
            "worker peak MiB",
            "RSS before MiB",
        ):
            table.add_column(col, justify="right")
        for label in ("first", "re-run"):
            r = embed_pass(run_dir, root / "data", root / "emb.h5", args.workers, args.batch_size)
            table.add_row(
                label,
                f"{r['files']} new, {r['already']} done",
                str(r["rows"]),
                f"{r['seconds']:.1f}",
                f"{(r['files'] + r['already']) / r['seconds']:.0f}",
                f"{r['audio_seconds'] / r['seconds']:.0f}",
                f"{r['rss_peak_mb']:.0f}",
                f"{r['worker_peak_mb']:.0f}",
                f"{r['rss_before_mb']:.0f}",
            )
        table.caption = f"store: {(root / 'emb.h5').stat().st_size / 2**20:.1f} MiB"
        Console(width=160).print(table)
        if args.writer_rows:
            r = writer_alone(args.writer_rows, 128, 4, 256, root)
            Console(width=160).print(
                f"store writer alone: {r['rows']} rows of 128 float32 (4 rows a file, 256 rows a commit) in {r['seconds']:.1f} s: "
                f"{r['rows'] / r['seconds']:,.0f} rows/s, store {r['mib']:.0f} MiB"
            )


if __name__ == "__main__":
    main()
